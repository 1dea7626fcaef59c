package io.graft.spark.predict;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.finetune.cli.Graft;
import io.graft.spark.SparkTests;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft predict --spark-master local[2] --data DIR --out DIR} end to end, through the CLI's ServiceLoader
 * seam: the Parquet it writes holds, for every image, the classes and probabilities that single-process {@code graft
 * predict --images} gives; a bad image is one error line naming the file, with exit status 2.
 */
class SparkPredictCliTest {
  @TempDir
  Path tmp;

  private static String[] run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Graft.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new String[] {String.valueOf(status), out.toString(), err.toString()};
  }

  @Test
  void predictsATinyImageFolderAsTheSingleProcessCommandDoes() throws Exception {
    SparkSession spark = SparkTests.local2();
    Path data = SparkTests.imageFolder(tmp.resolve("data"), 3, "a", "b");
    Path weights = SparkTests.weights(tmp, "smallcnn", 3);
    Path classes = Files.writeString(tmp.resolve("names.txt"), "bag\ncoat\ndress\n");
    Path out = tmp.resolve("predictions");
    String[] r = run("predict", "--spark-master", "local[2]", "--model", "smallcnn", "--weights", weights.toString(),
        "--classes", classes.toString(), "--data", data.toString(), "--out", out.toString(), "--top-k", "2");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("6 images, top-2 of 3 classes"), r[1]);

    Path json = tmp.resolve("single.json");
    String[] s = run("predict", "--model", "smallcnn", "--weights", weights.toString(), "--classes",
        classes.toString(), "--images", data.toString(), "--out", json.toString(), "--top-k", "2");
    assertEquals("0", s[0], s[2]);
    Map<String, JsonNode> single = new HashMap<>();
    for (JsonNode n : new ObjectMapper().readTree(json.toFile())) {
      single.put(Path.of(n.get("path").asText()).toAbsolutePath().toString(), n.get("predictions"));
    }
    List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
    assertEquals(6, rows.size());
    for (Row row : rows) {
      JsonNode want = single.get(row.getString(row.fieldIndex("path")));
      List<String> cls = row.getList(row.fieldIndex("top_classes"));
      List<Double> p = row.getList(row.fieldIndex("top_probabilities"));
      for (int j = 0; j < 2; j++) {
        assertEquals(want.get(j).get("class").asText(), cls.get(j));
        assertEquals(want.get(j).get("probability").asDouble(), p.get(j), 1e-6);
      }
    }

    Files.write(data.resolve("a").resolve("zz.jpg"), new byte[] {1, 2, 3});
    r = run("predict", "--spark-master", "local[2]", "--model", "smallcnn", "--weights", weights.toString(),
        "--data", data.toString(), "--out", tmp.resolve("p2").toString());
    assertEquals("2", r[0]);
    String[] lines = r[2].strip().split("\n");
    assertTrue(lines[lines.length - 1].startsWith("graft: error: " + data.resolve("a").resolve("zz.jpg") + ": "),
        r[2]);
  }
}
