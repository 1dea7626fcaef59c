package io.graft.zoo.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.zoo.onnx.OnnxModel;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** External data and initializer shapes of hostile ONNX files: refused before anything is read or built. */
class OnnxExternalDataTest {
  @TempDir
  Path tmp;

  /** A model whose one initializer, 'w' (2 floats), lives in the external file {@code location}. */
  private Path modelWithExternal(Path dir, String location) throws Exception {
    Onnx.TensorProto w = Onnx.TensorProto.newBuilder().setName("w").setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE)
        .addDims(2).setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
        .addExternalData(Onnx.StringStringEntryProto.newBuilder().setKey("location").setValue(location))
        .build();
    return save(dir.resolve("model.onnx"), Onnx.GraphProto.newBuilder().setName("g").addInitializer(w));
  }

  private static Path save(Path p, Onnx.GraphProto.Builder g) throws Exception {
    Onnx.ModelProto m = Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).build();
    Files.write(p, m.toByteArray());
    return p;
  }

  private static byte[] twoFloats(float a, float b) {
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(a).putFloat(b).array();
  }

  @Test
  void externalDataThroughASymlinkOutOfTheFolderIsRefused() throws Exception {
    Path outside = Files.write(tmp.resolve("secret.bin"), twoFloats(1, 2));
    Path dir = Files.createDirectory(tmp.resolve("model"));
    Files.createSymbolicLink(dir.resolve("weights.bin"), outside);
    Path model = modelWithExternal(dir, "weights.bin");
    GraftException e = assertThrows(GraftException.class, () -> OnnxWeights.read(model));
    assertTrue(e.getMessage().contains("'weights.bin'") && e.getMessage().contains("outside the model's folder")
        && e.getMessage().contains("tensor 'w'"), e.getMessage());
    Path etc = Files.createDirectory(tmp.resolve("model2"));
    Files.createSymbolicLink(etc.resolve("weights.bin"), Path.of("/etc/passwd"));
    Path model2 = modelWithExternal(etc, "weights.bin");
    assertThrows(GraftException.class, () -> OnnxWeights.read(model2));
  }

  @Test
  void externalDataThroughASymlinkInsideTheFolderIsRead() throws Exception {
    Path dir = Files.createDirectory(tmp.resolve("model"));
    Files.createDirectory(dir.resolve("data"));
    Files.write(dir.resolve("data/real.bin"), twoFloats(3, 4));
    Files.createSymbolicLink(dir.resolve("weights.bin"), Path.of("data/real.bin"));
    StateDict sd = OnnxWeights.read(modelWithExternal(dir, "weights.bin"));
    assertArrayEquals(new float[] {3, 4}, sd.get("w").data().toFloatVector());
  }

  @Test
  void externalDataThatIsAFifoIsRefusedWithoutOpeningIt() throws Exception {
    Path dir = Files.createDirectory(tmp.resolve("model"));
    Process p = new ProcessBuilder("mkfifo", dir.resolve("weights.bin").toString()).inheritIO().start();
    assertEquals(0, p.waitFor());
    Path model = modelWithExternal(dir, "weights.bin");
    // opening a FIFO for reading blocks until a writer comes: a regression would hang, the timeout fails it
    GraftException e = assertTimeoutPreemptively(Duration.ofSeconds(60),
        () -> assertThrows(GraftException.class, () -> OnnxWeights.read(model)));
    assertTrue(e.getMessage().contains("not a regular file") && e.getMessage().contains("'weights.bin'"),
        e.getMessage());
  }

  @Test
  void externalDataThatIsAFolderIsRefused() throws Exception {
    Path dir = Files.createDirectory(tmp.resolve("model"));
    Files.createDirectory(dir.resolve("weights.bin"));
    GraftException e = assertThrows(GraftException.class, () -> OnnxWeights.read(modelWithExternal(dir,
        "weights.bin")));
    assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
  }

  @Test
  void initializersOfRankAbove32AreRefusedNamingTheTensor() throws Exception {
    for (int rank : new int[] {40, 100}) {
      Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName("deep")
          .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE).addFloatData(1);
      for (int k = 0; k < rank; k++) {
        t.addDims(1);
      }
      Path p = save(tmp.resolve("rank" + rank + ".onnx"), Onnx.GraphProto.newBuilder().setName("g")
          .addInitializer(t)
          .addOutput(Onnx.ValueInfoProto.newBuilder().setName("deep")));
      GraftException e = assertThrows(GraftException.class, () -> OnnxWeights.read(p));
      assertTrue(e.getMessage().contains("tensor 'deep'") && e.getMessage().contains("rank " + rank), e.getMessage());
      GraftException m = assertThrows(GraftException.class, () -> OnnxModel.load(p));
      assertTrue(m.getMessage().contains("tensor 'deep'") && m.getMessage().contains("rank " + rank),
          m.getMessage());
    }
  }
}
