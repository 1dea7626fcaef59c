package io.graft.finetune.train;

import io.graft.core.io.AtomicFiles;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The learning-curve PNG (JFreeChart): train/validation loss and accuracy per epoch, written atomically. */
public final class LearningCurve {
  private LearningCurve() {}

  /**
   * Writes the learning curve of {@code history} as a PNG to {@code path}, atomically; throws {@link
   * io.graft.core.GraftException} naming the path if it cannot be written.
   */
  public static void write(Path path, List<EpochStats> history) {
    XYSeries trainLoss = new XYSeries("train loss");
    XYSeries valLoss = new XYSeries("val loss");
    XYSeries trainAcc = new XYSeries("train accuracy");
    XYSeries valAcc = new XYSeries("val accuracy");
    for (EpochStats s : history) {
      trainLoss.add(s.epoch() + 1, s.trainLoss());
      trainAcc.add(s.epoch() + 1, s.trainAccuracy());
      if (!Double.isNaN(s.valLoss())) {
        valLoss.add(s.epoch() + 1, s.valLoss());
        valAcc.add(s.epoch() + 1, s.valAccuracy());
      }
    }
    NumberAxis epochAxis = new NumberAxis("epoch");
    epochAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
    CombinedDomainXYPlot plot = new CombinedDomainXYPlot(epochAxis);
    XYSeriesCollection losses = new XYSeriesCollection(trainLoss);
    losses.addSeries(valLoss);
    plot.add(new XYPlot(losses, null, new NumberAxis("loss"), new XYLineAndShapeRenderer()));
    NumberAxis accAxis = new NumberAxis("accuracy (%)");
    accAxis.setAutoRangeIncludesZero(false);
    XYSeriesCollection accuracies = new XYSeriesCollection(trainAcc);
    accuracies.addSeries(valAcc);
    plot.add(new XYPlot(accuracies, null, accAxis, new XYLineAndShapeRenderer()));
    JFreeChart chart = new JFreeChart("Learning curve", JFreeChart.DEFAULT_TITLE_FONT, plot, true);
    AtomicFiles.write(path, out -> ChartUtils.writeChartAsPNG(out, chart, 900, 600));
  }
}
