package io.graft.spark.features;

import io.graft.finetune.data.Example;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;

/**
 * Images for Spark jobs: the driver side ({@link #samples}: what to distribute) and the executor side ({@link
 * #decode}: one sample to an untransformed image and its label, with Graft's own decoding, so the pixels equal a
 * single-process run's). Implementations: {@link ImageRows} (a DataFrame column of encoded image bytes, e.g. from
 * Spark's {@code binaryFile} source, and an ImageFolder read with it) and {@link SharedDataset} (a Graft dataset
 * re-opened on every executor from a shared path: IDX files, an ImageFolder).
 */
public interface ImageSource extends Serializable {
  /** What the samples are keyed by in outputs. */
  enum Keys {
    /** The dataset index: {@link Sample#index()}. */
    INDEX,
    /** The file path: {@link Sample#key()}. */
    PATH
  }

  /** The samples, partitioned for the job. */
  JavaRDD<Sample> samples(SparkSession spark);

  /** On an executor: the sample's image (C, H, W floats in [0, 1]) and label; throws naming the file when it is bad. */
  Example decode(Sample s);

  /** Class names by label (empty when unlabelled). */
  List<String> classes();

  /** What outputs are keyed by. */
  Keys keys();
}
