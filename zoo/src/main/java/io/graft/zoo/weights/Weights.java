package io.graft.zoo.weights;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.layers.LoadResult;
import io.graft.layers.Module;
import io.graft.layers.StateDictLoadException;
import io.graft.zoo.models.Zoo;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Reads weights by file type — PyTorch {@code .pth}/{@code .pt}/{@code .bin} (zip or legacy), {@code .safetensors},
 * {@code .onnx} initializers — and loads them into a module by name with errors that say what to do.
 *
 * <pre>{@code
 * Module model = Zoo.create("resnet18", 1000);
 * Weights.loadInto(model, Path.of("resnet18-f37072fd.pth"), true);
 * }</pre>
 */
public final class Weights {
  /** The kinds of weight file Graft reads. */
  public enum Format {
    /** A PyTorch checkpoint ({@code torch.save}): a zip archive or the legacy pickle format. */
    PYTORCH,
    /** A {@code .safetensors} file. */
    SAFETENSORS,
    /** An ONNX model, read for its initializers. */
    ONNX
  }

  private Weights() {}

  /** Detects the format from the first bytes (and the extension for ONNX, which has no magic number). */
  public static Format detect(Path path) {
    String src = path.toString();
    if (!Files.isRegularFile(path)) {
      throw new GraftException(src + ": no such file");
    }
    byte[] head = new byte[9];
    int n;
    try (InputStream in = Files.newInputStream(path)) {
      n = in.readNBytes(head, 0, head.length);
    } catch (IOException e) {
      throw new GraftException(src + ": cannot read: " + e.getMessage(), e);
    }
    String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
    if (n >= 4 && head[0] == 'P' && head[1] == 'K') {
      return Format.PYTORCH;
    }
    // safetensors before pickles: its 8-byte header length may start with 0x80 (a 384-byte header does), but its
    // ninth byte is the header's '{'; a legacy torch.save starts 0x80 <protocol 2-5> and has no '{' there
    if (n == 9 && head[8] == '{') {
      return Format.SAFETENSORS;
    }
    if (n >= 2 && (head[0] & 0xFF) == 0x80 && head[1] >= 2 && head[1] <= 5) {
      return Format.PYTORCH;
    }
    if (name.endsWith(".onnx")) {
      return Format.ONNX;
    }
    throw new GraftException(src + ": unknown weight format (expected a PyTorch .pth, a .safetensors or an .onnx "
        + "file)");
  }

  /**
   * A file's tensors as every reader gives them (float16 and bfloat16 widened to float32, the dtype Graft computes
   * in) and each tensor's dtype as stored ({@code F32}, {@code F16}, {@code BF16}, {@code I64}, ...).
   */
  public record Stored(StateDict tensors, Map<String, String> dtypes) {
    /** The tensors in their stored dtypes: F16 and BF16 narrowed back, exactly (they were widened from them). */
    public StateDict asStored() {
      StateDict out = new StateDict();
      for (Map.Entry<String, Tensor> e : tensors) {
        String d = dtypes.get(e.getKey());
        Tensor t = e.getValue();
        out.put(e.getKey(), "F16".equals(d) ? Tensor.of(t.data().castTo(DataType.HALF))
            : "BF16".equals(d) ? Tensor.of(t.data().castTo(DataType.BFLOAT16)) : t);
      }
      return out;
    }
  }

  /** {@link #read} with the stored dtypes, for listing and converting files without changing them. */
  public static Stored readStored(Path path) {
    Map<String, String> dtypes = new LinkedHashMap<>();
    StateDict sd = switch (detect(path)) {
      case PYTORCH -> TorchPth.read(path, dtypes);
      case SAFETENSORS -> {
        Safetensors.File f = Safetensors.open(path);
        f.entries().forEach(e -> dtypes.put(e.name(), e.dtype()));
        yield f.tensors();
      }
      case ONNX -> OnnxWeights.read(path, dtypes);
    };
    return new Stored(sd, dtypes);
  }

  /** Every tensor in the file, by name, in file order. */
  public static StateDict read(Path path) {
    return switch (detect(path)) {
      case PYTORCH -> TorchPth.read(path);
      case SAFETENSORS -> Safetensors.read(path);
      case ONNX -> OnnxWeights.read(path);
    };
  }

  /**
   * Loads a weight file into {@code model} by name (see {@link Module#loadStateDict}); nothing changes on failure.
   * An ONNX file whose weights PyTorch fused and renamed gets an error saying so.
   */
  public static LoadResult loadInto(Module model, Path path, boolean strict) {
    return loadInto(model, read(path), path, strict);
  }

  /** As {@link #loadInto(Module, Path, boolean)} for weights already read from {@code path}. */
  public static LoadResult loadInto(Module model, StateDict sd, Path path, boolean strict) {
    try {
      return model.loadStateDict(sd, strict);
    } catch (StateDictLoadException e) {
      if (detect(path) == Format.ONNX && OnnxWeights.isFusedExport(sd)) {
        throw new GraftException(path + ": this ONNX file was exported in eval mode with PyTorch's defaults, which "
            + "fuse Conv+BatchNorm and rename the weights (e.g. '" + firstRenamed(sd) + "'), so they cannot be "
            + "loaded by name. Re-export with torch.onnx.export(..., training=torch.onnx.TrainingMode.PRESERVE, "
            + "do_constant_folding=False), or import the whole graph instead of loading weights by name.", e);
      }
      String fileArch = Zoo.identify(sd.keys());
      String modelArch = Zoo.identify(model.stateDict().keys());
      String hint = fileArch != null && !fileArch.equals(modelArch) ? "Hint: the file's keys look like " + fileArch
          + (modelArch == null ? "" : ", the model is " + modelArch) + "; load it into " + fileArch + " (graft: --model "
          + fileArch + ")." : null;
      throw new StateDictLoadException(path + " into " + model.typeName(), e.missingKeys(), e.unexpectedKeys(),
          e.mismatches(), hint);
    }
  }

  /**
   * The zoo model {@code name} with the weights of {@code path}, loaded strictly: its head is sized as in the file
   * (1000 classes for an ImageNet checkpoint, 5 for a fine-tuned 5-way model). The file is read once.
   */
  public static Module loadZoo(String name, Path path) {
    String key = Zoo.headPath(name) + ".weight";
    StateDict sd = read(path);
    Tensor w = sd.get(key);
    if (w == null || w.rank() != 2) {
      throw new GraftException(path + ": no head weight '" + key + "' for " + name + " (a " + name
          + " state dict names its head '" + key + "'); to size the head yourself, create the model with its number "
          + "of classes and load with loadInto (graft predict: --num-classes)");
    }
    Module m = Zoo.create(name, Math.toIntExact(w.shape()[0]));
    loadInto(m, sd, path, true);
    return m;
  }

  private static String firstRenamed(StateDict sd) {
    return sd.keys().stream().filter(k -> k.startsWith("onnx::")).findFirst().orElse("?");
  }
}
