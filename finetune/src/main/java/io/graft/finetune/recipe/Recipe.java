package io.graft.finetune.recipe;

import io.graft.core.GraftException;
import io.graft.core.init.Init;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.train.History;
import io.graft.finetune.train.Trainer;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.optim.scheduler.Scheduler;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.weights.Weights;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A whole fine-tuning run as one value, in the order of PyTorch's transfer-learning tutorial: the model (a zoo name
 * with a weights file, or a module built or imported in Java) → a new head for {@code numClasses} → the
 * {@link FineTune} options (strategy, frozen-BatchNorm policy, head and backbone learning rates, layer-wise decay,
 * optimizer, label smoothing, seed) → a learning-rate schedule → the {@link Trainer.Options} (epochs, early
 * stopping, keep-best, feature cache, checkpoints, metrics log, plot).
 *
 * <pre>{@code
 * Recipe.Result r = Recipe.zoo("resnet18", Path.of("resnet18-f37072fd.pth"), 10)
 *     .withFineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.lastK(2)).withBackboneLrScale(0.1))
 *     .withScheduler(opt -> new CosineAnnealingLR(opt, 10))
 *     .withTraining(Trainer.Options.epochs(10).withPatience(3))
 *     .run(train, val);
 * }</pre>
 *
 * <p>{@link #run} seeds Graft's default generator with the recipe's seed, builds the model, {@link FineTune#prepare
 * prepares} it, builds the optimizer and schedule, and trains with the gradual-unfreezing listener attached: the
 * same steps as assembling the pieces by hand, which stay available for anything a recipe does not cover.
 *
 * @param model builds the model to fine-tune (called once per {@link #run})
 * @param source what the model is, for messages ("resnet18 + resnet18-f37072fd.pth")
 * @param pretrained whether the model comes with trained weights: {@link Strategy#SCRATCH} needs a fresh model,
 *     every other strategy a trained one
 * @param scheduler builds the schedule over the recipe's optimizer, or {@code null} for a constant learning rate
 */
public record Recipe(Supplier<Module> model, String source, boolean pretrained, int numClasses,
    FineTune.Options fineTune, Function<Optimizer, Scheduler> scheduler, Trainer.Options training) {
  /** Throws {@link GraftException} unless {@code numClasses} is positive. */
  public Recipe {
    if (numClasses < 1) {
      throw new GraftException("Recipe: numClasses must be positive, got " + numClasses);
    }
  }

  /**
   * A zoo model with pretrained weights (the head sized as in the file, loaded strictly, then replaced), or a
   * freshly initialised one when {@code weights} is {@code null} (for {@link Strategy#SCRATCH}). Defaults: full
   * fine-tuning at lr 0.01 (backbone 0.001), SGD momentum 0.9, no schedule, 10 epochs.
   */
  public static Recipe zoo(String name, Path weights, int numClasses) {
    Zoo.headPath(name); // an unknown name fails here, before any training is set up
    return new Recipe(weights == null ? () -> Zoo.create(name, numClasses) : () -> Weights.loadZoo(name, weights),
        weights == null ? name : name + " + " + weights, weights != null, numClasses,
        FineTune.Options.lr(0.01).withBackboneLrScale(0.1)
            .withStrategy(weights == null ? Strategy.SCRATCH : Strategy.FULL),
        null, Trainer.Options.epochs(10));
  }

  /**
   * A model built or imported in Java, taken to carry trained weights (it must implement
   * {@link io.graft.zoo.models.Classifier}); trained in place.
   */
  public static Recipe module(Module model, int numClasses) {
    return new Recipe(() -> model, model.typeName(), true, numClasses,
        FineTune.Options.lr(0.01).withBackboneLrScale(0.1), null, Trainer.Options.epochs(10));
  }

  /** This recipe with fine-tuning options {@code o} (strategy, learning rates, optimizer, label smoothing, seed). */
  public Recipe withFineTune(FineTune.Options o) {
    return new Recipe(model, source, pretrained, numClasses, o, scheduler, training);
  }

  /**
   * This recipe with the schedule built by {@code s} over the recipe's optimizer ({@code null}: constant learning
   * rate).
   */
  public Recipe withScheduler(Function<Optimizer, Scheduler> s) {
    return new Recipe(model, source, pretrained, numClasses, fineTune, s, training);
  }

  /** This recipe with training options {@code o} (epochs, early stopping, checkpoints, logs). */
  public Recipe withTraining(Trainer.Options o) {
    return new Recipe(model, source, pretrained, numClasses, fineTune, scheduler, o);
  }

  /** What a run leaves: the fine-tuned model (best weights when keep-best is on), its optimizer, the history. */
  public record Result(Module model, Optimizer optimizer, History history) {}

  /** Builds, prepares and trains; {@code val} may be {@code null} (no validation, no early stopping). */
  public Result run(DataLoader train, DataLoader val) {
    boolean scratch = fineTune.strategy() instanceof Strategy.Scratch;
    if (scratch && pretrained) {
      throw new GraftException("Recipe (" + source + "): strategy scratch trains a freshly initialised model; "
          + "build the recipe without weights (Recipe.zoo(name, null, n)) or pick another strategy");
    }
    if (!scratch && !pretrained) {
      throw new GraftException("Recipe (" + source + "): strategy " + fineTune.strategy().label() + " fine-tunes "
          + "trained weights; give a weights file (Recipe.zoo(name, weights, n)) or use Strategy.SCRATCH");
    }
    Init.manualSeed(fineTune.seed());
    Module m = model.get();
    FineTune ft = new FineTune(fineTune);
    ft.prepare(m, numClasses);
    Optimizer opt = ft.optimizer(m);
    Scheduler s = scheduler == null ? null : scheduler.apply(opt);
    History h = new Trainer(m, opt, s, ft.loss(), training).addListener(ft.listener(m)).fit(train, val);
    return new Result(m, opt, h);
  }
}
