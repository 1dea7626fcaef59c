package io.graft.finetune.recipe;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.ops.LossOps.CrossEntropyOptions;
import io.graft.finetune.train.TrainListener;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.layers.lora.Lora;
import io.graft.layers.lora.LoraConfig;
import io.graft.layers.loss.Loss;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.norm.BatchNormPolicy;
import io.graft.layers.params.Params;
import io.graft.optim.Adam;
import io.graft.optim.AdamW;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import io.graft.optim.SGD;
import io.graft.zoo.models.Classifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A fine-tuning recipe: a new head for N classes, a freezing {@link Strategy}, the frozen-BatchNorm policy,
 * discriminative learning rates (head lr, backbone lr or its scale, optional layer-wise decay), the optimizer and the
 * loss (with label smoothing) — the PyTorch transfer-learning tutorial as one object.
 *
 * <pre>{@code
 * Module model = Zoo.create("resnet18", 1000);
 * Weights.loadInto(model, Pretrained.RESNET18_IMAGENET1K_V1.find(Pretrained.defaultCache()), true);
 * FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.lastK(2)).withBackboneLrScale(0.1));
 * ft.prepare(model, 10);
 * Optimizer opt = ft.optimizer(model);
 * new Trainer(model, opt, null, ft.loss(), Trainer.Options.epochs(10)).addListener(ft.listener(model)).fit(tr, va);
 * }</pre>
 */
public final class FineTune {
  /**
   * Head learning rate; the backbone's learning rate, given either as an absolute rate ({@code backboneLr}, null when
   * not given) or as a multiplier of the head's ({@code backboneLrScale}, used when {@code backboneLr} is null), and
   * × {@code layerDecay}^d for the stage d places before the head; optimizer "sgd" | "adam" | "adamw"; momentum (SGD),
   * weight decay, label smoothing. {@code backboneLr(x)} and {@code backboneLrScale(x / headLr)} give the same
   * rates; the command line's {@code --backbone-lr} and {@code --backbone-lr-scale} mean the same.
   */
  public record Options(Strategy strategy, double headLr, Double backboneLr, double backboneLrScale,
      double layerDecay, String optimizer, double momentum, double weightDecay, double labelSmoothing,
      BatchNormPolicy bnPolicy, long seed) {
    /**
     * Head learning rate {@code headLr} with the defaults: full fine-tuning, backbone at the head's rate, no layer
     * decay, SGD with momentum 0.9 and weight decay 1e-4, no label smoothing, frozen BatchNorm statistics, seed 0.
     */
    public static Options lr(double headLr) {
      return new Options(Strategy.FULL, headLr, null, 1.0, 1.0, "sgd", 0.9, 1e-4, 0, BatchNormPolicy.FREEZE_STATS,
          0);
    }

    /** These options with strategy {@code s}: which parameters train (see {@link Strategy}). */
    public Options withStrategy(Strategy s) {
      return new Options(s, headLr, backboneLr, backboneLrScale, layerDecay, optimizer, momentum, weightDecay,
          labelSmoothing, bnPolicy, seed);
    }

    /** The backbone's learning rate as an absolute rate (replaces any {@link #withBackboneLrScale} given). */
    public Options withBackboneLr(double absolute) {
      return new Options(strategy, headLr, absolute, backboneLrScale, layerDecay, optimizer, momentum, weightDecay,
          labelSmoothing, bnPolicy, seed);
    }

    /** The backbone's learning rate as a multiplier of the head's (replaces any {@link #withBackboneLr} given). */
    public Options withBackboneLrScale(double multiplier) {
      return new Options(strategy, headLr, null, multiplier, layerDecay, optimizer, momentum, weightDecay,
          labelSmoothing, bnPolicy, seed);
    }

    /**
     * These options with layer-wise decay {@code d} (positive; 1 for none): stage k places before the head trains at
     * the backbone rate × {@code d}^k.
     */
    public Options withLayerDecay(double d) {
      return new Options(strategy, headLr, backboneLr, backboneLrScale, d, optimizer, momentum, weightDecay,
          labelSmoothing, bnPolicy, seed);
    }

    /**
     * These options with optimizer {@code name} ({@code "sgd"}, {@code "adam"} or {@code "adamw"}; another name fails
     * when the optimizer is built), SGD's {@code momentum} and the {@code weightDecay} (PyTorch's {@code
     * weight_decay}).
     */
    public Options withOptimizer(String name, double momentum, double weightDecay) {
      return new Options(strategy, headLr, backboneLr, backboneLrScale, layerDecay, name, momentum, weightDecay,
          labelSmoothing, bnPolicy, seed);
    }

    /**
     * These options with label smoothing {@code s} in [0, 1] for the cross-entropy loss (PyTorch's {@code
     * label_smoothing}).
     */
    public Options withLabelSmoothing(double s) {
      return new Options(strategy, headLr, backboneLr, backboneLrScale, layerDecay, optimizer, momentum, weightDecay,
          s, bnPolicy, seed);
    }

    /** These options with policy {@code p} for the BatchNorm layers of frozen stages. */
    public Options withBatchNormPolicy(BatchNormPolicy p) {
      return new Options(strategy, headLr, backboneLr, backboneLrScale, layerDecay, optimizer, momentum, weightDecay,
          labelSmoothing, p, seed);
    }

    /** Seed of the new head's initialisation. */
    public Options withSeed(long s) {
      return new Options(strategy, headLr, backboneLr, backboneLrScale, layerDecay, optimizer, momentum, weightDecay,
          labelSmoothing, bnPolicy, s);
    }

    /** The backbone's learning rate before layer decay: {@code backboneLr}, else head lr × {@code backboneLrScale}. */
    public double backboneRate() {
      return backboneLr != null ? backboneLr : headLr * backboneLrScale;
    }
  }

  private final Options o;

  /**
   * A fine-tuning plan; throws {@link GraftException} unless the head lr and layer decay are positive and the backbone
   * lr (absolute or as a scale) is finite and not negative.
   */
  public FineTune(Options options) {
    if (!(options.headLr() > 0) || !(options.backboneLrScale() >= 0) || !(options.layerDecay() > 0)
        || options.backboneLr() != null && !(options.backboneLr() >= 0) || !Double.isFinite(options.backboneRate())) {
      throw new GraftException("FineTune: the head lr and layer decay must be positive, the backbone lr and its "
          + "scale finite and not negative; got " + options);
    }
    if (options.strategy() instanceof Strategy.Lora && options.layerDecay() != 1.0) {
      throw new GraftException("FineTune: layer decay " + options.layerDecay() + " with LoRA: the adapters of every "
          + "layer train at the head's lr; leave the layer decay at 1");
    }
    this.o = options;
  }

  /** The options this plan was built with. */
  public Options options() {
    return o;
  }

  /**
   * Replaces the head by a fresh {@code Linear(features, numClasses)} (seeded) and applies the strategy's freezing
   * and the BatchNorm policy. Only the head's keys change.
   */
  public Linear prepare(Module model, int numClasses) {
    Classifier c = classifier(model);
    Linear head = new Linear(c.numFeatures(), numClasses, true, new io.graft.core.random.Rng(o.seed()));
    model.replace(c.headPath(), head);
    model.requiresGrad(true);
    Strategy s = o.strategy();
    if (s instanceof Strategy.FeatureExtract || s instanceof Strategy.Gradual) {
      freezeBackbone(model, c.headPath());
    } else if (s instanceof Strategy.LastK k) {
      freezeBackbone(model, c.headPath());
      List<String> stages = Stages.of(model);
      if (k.k() > stages.size()) {
        throw new GraftException("last-" + k.k() + ": the model has only " + stages.size() + " stages: " + stages);
      }
      List<String> open = stages.subList(stages.size() - k.k(), stages.size());
      if (!open.isEmpty()) {
        model.unfreeze(Stages.patterns(open));
      }
    }
    if (s instanceof Strategy.Lora l) {
      // the backbone frozen, adapters on the targets; the new head trains fully (PEFT's modules_to_save)
      List<String> save = new ArrayList<>(l.config().modulesToSave());
      save.add(c.headPath());
      Lora.apply(model, l.config().modulesToSave(save.toArray(String[]::new)),
          new io.graft.core.random.Rng(io.graft.core.random.Rng.mix(o.seed(), 0x4c6f5241L)));
    }
    BatchNorm.setPolicy(model, o.bnPolicy());
    return head;
  }

  /**
   * The LoRA config {@link #prepare} applied under the LoRA strategy: the strategy's, with the head among the modules
   * to save; throws {@link GraftException} for another strategy.
   */
  public LoraConfig loraConfig(Module model) {
    if (!(o.strategy() instanceof Strategy.Lora l)) {
      throw new GraftException("strategy " + o.strategy().label() + " is not LoRA");
    }
    List<String> save = new ArrayList<>(l.config().modulesToSave());
    save.add(classifier(model).headPath());
    return l.config().modulesToSave(save.toArray(String[]::new));
  }

  private static void freezeBackbone(Module model, String head) {
    for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
      e.getValue().requiresGrad(Stages.inHead(e.getKey(), head));
    }
  }

  private static Classifier classifier(Module model) {
    if (!(model instanceof Classifier c)) {
      throw new GraftException(model.typeName() + " has no known head (implement Classifier)");
    }
    return c;
  }

  /**
   * The optimizer with discriminative learning rates: one group for the head (head lr) and, for the backbone, one
   * group (the backbone rate) or one per stage with layer-wise decay. Every parameter is in a group — frozen ones
   * simply get no update and no state — so gradual unfreezing keeps optimizer state. SCRATCH uses one group. LoRA
   * uses two at the head lr, the head and the adapters, and leaves the frozen base weights out.
   */
  public Optimizer optimizer(Module model) {
    Classifier c = classifier(model);
    List<ParamGroup> groups = new ArrayList<>();
    if (o.strategy() instanceof Strategy.Scratch) {
      groups.add(ParamGroup.of(model.namedParameters()).lr(o.headLr()));
    } else if (o.strategy() instanceof Strategy.Lora) {
      // only the head and the adapters: the frozen base weights are in no group, so they can have no state
      ParamGroup head = ParamGroup.of(Params.select(model, c.headPath())).lr(o.headLr());
      groups.add(head);
      Map<String, Parameter> adapters = new LinkedHashMap<>();
      model.namedParameters().forEach((k, p) -> {
        if (p.requiresGrad() && !Stages.inHead(k, c.headPath())) {
          adapters.put(k, p);
        }
      });
      groups.add(ParamGroup.of(adapters).lr(o.headLr()));
    } else {
      ParamGroup head = ParamGroup.of(Params.select(model, c.headPath())).lr(o.headLr());
      groups.add(head);
      double backbone = o.backboneRate();
      if (o.layerDecay() == 1.0) {
        groups.add(ParamGroup.rest(model.namedParameters(), head).lr(backbone));
      } else {
        List<String> stages = Stages.of(model);
        Map<String, Parameter> taken = new LinkedHashMap<>(Params.select(model, c.headPath()));
        for (int i = stages.size() - 1; i >= 0; i--) {
          Map<String, Parameter> ps = Params.select(model, Stages.patterns(stages.get(i)));
          taken.putAll(ps);
          groups.add(ParamGroup.of(ps).lr(backbone * Math.pow(o.layerDecay(), stages.size() - 1 - i)));
        }
        Map<String, Parameter> rest = new LinkedHashMap<>(model.namedParameters());
        rest.keySet().removeAll(taken.keySet());
        if (!rest.isEmpty()) {
          groups.add(ParamGroup.of(rest).lr(backbone * Math.pow(o.layerDecay(), stages.size())));
        }
      }
    }
    ParamGroup[] g = groups.toArray(ParamGroup[]::new);
    return switch (o.optimizer()) {
      case "sgd" -> new SGD(SGD.Options.lr(o.headLr()).withMomentum(o.momentum()).withWeightDecay(o.weightDecay()), g);
      case "adam" -> new Adam(Adam.Options.lr(o.headLr()).withWeightDecay(o.weightDecay()), g);
      case "adamw" -> new AdamW(Adam.Options.lr(o.headLr()).withWeightDecay(o.weightDecay()), g);
      default -> throw new GraftException("unknown optimizer '" + o.optimizer() + "'; expected sgd, adam or adamw");
    };
  }

  /** Cross-entropy with the recipe's label smoothing. */
  public Loss loss() {
    return new CrossEntropyLoss(CrossEntropyOptions.defaults().withLabelSmoothing(o.labelSmoothing()));
  }

  /**
   * The gradual-unfreezing schedule as a trainer listener (a no-op for the other strategies). At the start of epoch
   * e it unfreezes everything the schedule opens at epochs up to e — not only at e — so a run resumed from a
   * checkpoint at a later epoch trains the same parameters as the uninterrupted run (unfreezing twice is harmless).
   */
  public TrainListener listener(Module model) {
    if (!(o.strategy() instanceof Strategy.Gradual g)) {
      return new TrainListener() {};
    }
    return new TrainListener() {
      @Override
      public void onEpochStart(int epoch) {
        List<String> open = new ArrayList<>();
        if (g.schedule().isEmpty()) {
          List<String> all = Stages.of(model);  // epoch 1: the last stage, epoch 2: also the one before, ...
          open.addAll(all.subList(Math.max(0, all.size() - epoch), all.size()));
        } else {
          g.schedule().forEach((at, stages) -> {
            if (at <= epoch) {
              open.addAll(stages);
            }
          });
        }
        if (!open.isEmpty()) {
          model.unfreeze(Stages.patterns(open));
        }
      }
    };
  }
}
