package io.graft.finetune.cli;

import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.LossOps.CrossEntropyOptions;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.recipe.FineTune;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.train.Replica;
import io.graft.layers.Module;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.zoo.models.Zoo;

/**
 * How a {@code graft finetune --spark-master} replica is built on an executor: the run's flags that decide the
 * model's shape and freezing, the optimizer's groups, the loss and the training data, as {@link FinetuneCommand}
 * reads them (the data must be on storage every executor sees). The weights are not read here: the driver's are
 * loaded into every replica before it trains, so {@code --weights} need not be on the executors.
 */
record FinetuneReplica(String model, int numClasses, String strategy, double lr, Double backboneLr,
    Double backboneLrScale, double layerDecay, String optimizer, double momentum, double weightDecay,
    double labelSmoothing, String classWeights, String data, String classes, Integer perClass, int imageSize,
    long seed, String augment, int batchSize) implements Replica.Factory {

  /** The replica recipe of {@code c}'s run. */
  static FinetuneReplica of(FinetuneCommand c, Strategy s, Augment aug, int numClasses) {
    return new FinetuneReplica(c.model, numClasses, c.strategy, c.lr, c.backboneLr, c.backboneLrScale, c.layerDecay,
        c.optimizer, c.momentum, c.weightDecay, c.labelSmoothing, c.classWeights, c.data, c.classes, c.perClass,
        c.imageSize, c.seed, aug.label(), c.batchSize);
  }

  @Override
  public Replica build() {
    Augment aug = Augment.parse(augment);
    DataSource ds = DataSource.open(data, classes, perClass, model, imageSize, seed, null, aug, null);
    Init.manualSeed(seed);
    Module m = Zoo.create(model, numClasses);
    // as FinetuneCommand builds its FineTune
    FineTune.Options fo = FineTune.Options.lr(lr).withStrategy(Strategy.parse(strategy));
    fo = backboneLr != null ? fo.withBackboneLr(backboneLr)
        : fo.withBackboneLrScale(backboneLrScale == null ? 0.1 : backboneLrScale);
    FineTune ft = new FineTune(fo.withLayerDecay(layerDecay).withOptimizer(optimizer, momentum, weightDecay)
        .withLabelSmoothing(labelSmoothing).withSeed(seed));
    ft.prepare(m, numClasses);
    CrossEntropyOptions o = CrossEntropyOptions.defaults().withLabelSmoothing(labelSmoothing);
    if (classWeights != null) {
      o = o.withWeight(Tensor.fromArray(ClassWeights.of(classWeights, ds.train(), numClasses), numClasses));
    }
    DataLoader train = new DataLoader(ds.train(), ds.trainTransform(), DataLoader.Options.batch(batchSize)
        .withShuffle(true).withSeed(seed).withWorkers(0));
    return new Replica(m, ft.optimizer(m), new CrossEntropyLoss(o), train);
  }
}
