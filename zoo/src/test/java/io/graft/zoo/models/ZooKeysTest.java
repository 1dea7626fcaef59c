package io.graft.zoo.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.layers.Identity;
import io.graft.layers.Module;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every architecture's state dict: keys, order, shapes and dtypes exactly as torchvision writes them. */
class ZooKeysTest {
  /**
   * The golden keys of every architecture: {@code keys.json} ({@code tools/fixtures/zoo.py}) merged with each
   * family's {@code keys_<family>.json} (written by that family's fixture script), which must not repeat a model.
   */
  static JsonNode golden() throws Exception {
    ObjectNode all = new ObjectMapper().createObjectNode();
    java.nio.file.Path dir = java.nio.file.Paths.get(ZooKeysTest.class.getResource("/fixtures/zoo/keys.json").toURI())
        .getParent();
    try (Stream<java.nio.file.Path> files = java.nio.file.Files.list(dir)) {
      for (java.nio.file.Path f : files.filter(f -> f.getFileName().toString().matches("keys(_[a-z0-9]+)?\\.json"))
          .sorted().toList()) {
        try (InputStream in = java.nio.file.Files.newInputStream(f)) {
          JsonNode models = new ObjectMapper().readTree(in).get("models");
          models.fieldNames().forEachRemaining(name -> {
            if (all.has(name)) {
              throw new IllegalStateException(name + " appears in two golden key files (" + f + ")");
            }
            all.set(name, models.get(name));
          });
        }
      }
    }
    return all;
  }

  static String line(String key, long[] shape, String dtype) {
    return key + " " + java.util.Arrays.toString(shape) + " " + dtype;
  }

  static String torchDtype(Tensor t) {
    return switch (t.dtype()) {
      case FLOAT -> "float32";
      case LONG -> "int64";
      default -> t.dtype().toString();
    };
  }

  @Test
  void everyGoldenModelIsInTheZoo() throws Exception {
    TreeSet<String> names = new TreeSet<>();
    golden().fieldNames().forEachRemaining(names::add);
    assertEquals(names, new TreeSet<>(Zoo.names()));
  }

  @TestFactory
  Stream<DynamicTest> stateDictMatchesTorchvision() throws Exception {
    JsonNode g = golden();
    return Zoo.names().stream().map(name -> DynamicTest.dynamicTest(name, () -> {
      List<String> expected = new ArrayList<>();
      for (JsonNode k : g.get(name)) {
        long[] shape = new long[k.get(1).size()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = k.get(1).get(i).asLong();
        }
        expected.add(line(k.get(0).asText(), shape, k.get(2).asText()));
      }
      StateDict sd = Zoo.create(name, 1000).stateDict();
      List<String> actual = new ArrayList<>();
      for (Map.Entry<String, Tensor> e : sd) {
        actual.add(line(e.getKey(), e.getValue().shape(), torchDtype(e.getValue())));
      }
      assertEquals(String.join("\n", expected), String.join("\n", actual), name);
    }));
  }

  @Test
  void headsAreFoundAndReplaced() {
    Map<String, String> heads = Map.of("resnet18", "fc", "resnet50", "fc", "vgg11", "classifier.6",
        "mobilenet_v2", "classifier.1");
    Map<String, Long> features = Map.of("resnet18", 512L, "resnet50", 2048L, "vgg11", 4096L, "mobilenet_v2", 1280L);
    assertEquals("head", Zoo.headPath("smallcnn"));
    assertEquals(((Classifier) Zoo.create("smallcnn", 3)).headPath(), Zoo.headPath("smallcnn"));
    heads.forEach((name, path) -> {
      Classifier c = Zoo.classifier(name, 1000);
      assertEquals(path, c.headPath());
      assertEquals(path, Zoo.headPath(name), "Zoo.headPath agrees with the built model");
      assertEquals(features.get(name), c.numFeatures());
      c.replaceHead(7);
      assertEquals(7, c.head().outFeatures());
      assertEquals(7, c.module().eval().call(Tensor.zeros(1, 3, 32, 32)).shape()[1]);
    });
  }

  @Test
  void aZooModelTakesANewHeadAndRefusesANewBackboneModule() {
    Module r = Zoo.create("resnet18", 10);
    r.replace("fc", new Identity());
    assertEquals(512, r.eval().call(Tensor.zeros(1, 3, 32, 32)).shape()[1], "fc replaced by Identity: features");
    GraftException e = assertThrows(GraftException.class, () -> r.replace("conv1", new Identity()));
    assertTrue(e.getMessage().contains("ResNet") && e.getMessage().contains("'conv1'"), e.getMessage());
    assertTrue(r.get("conv1") instanceof io.graft.layers.conv.Conv2d, "nothing changed after a refused replace");
    Module s = Zoo.create("smallcnn", 10);
    s.replace("head", new Identity());
    assertEquals(64, s.eval().call(Tensor.zeros(1, 1, 28, 28)).shape()[1]);
    assertThrows(GraftException.class, () -> s.replace("fc1", new Identity()));
  }
}
