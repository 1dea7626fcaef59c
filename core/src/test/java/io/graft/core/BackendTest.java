package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BackendTest {
  @Test
  void avx512CpuGetsTheAvx512OneDnnBuild() {
    assertEquals("-onednn-avx512", Backend.chooseExtension("Linux", "amd64", "fpu sse avx2 avx512f avx512dq", "auto"));
  }

  @Test
  void cpuWithoutAvx512GetsThePortableOneDnnBuild() {
    assertEquals("-onednn", Backend.chooseExtension("Linux", "amd64", "fpu sse avx2 avx512_vnni_fake", "auto"));
    assertEquals("-onednn", Backend.chooseExtension("Linux", "x86_64", "", "auto"));
  }

  @Test
  void overrideWinsAndOtherPlatformsKeepTheirDefault() {
    assertEquals("-onednn", Backend.chooseExtension("Linux", "amd64", "avx512f", "onednn"));
    assertEquals("-onednn-avx512", Backend.chooseExtension("Linux", "amd64", "", "onednn-avx512"));
    assertNull(Backend.chooseExtension("Mac OS X", "aarch64", "", "auto"));
    assertNull(Backend.chooseExtension("Linux", "aarch64", "", "auto"));
    GraftException e = assertThrows(GraftException.class, () -> Backend.chooseExtension("Linux", "amd64", "", "avx9"));
    assertTrue(e.getMessage().contains("graft.native"), e.getMessage());
  }

  @Test
  void hopperGpuIsRefusedWithItsName() {
    String msg = Backend.cudaRefusal(List.of("NVIDIA H100 80GB HBM3, 9.0"));
    assertTrue(msg.contains("NVIDIA H100 80GB HBM3") && msg.contains("9.0") && msg.contains("-Pcuda"), msg);
    assertTrue(Backend.cudaRefusal(List.of("Tesla K20, 3.5")).contains("Tesla K20"));
  }

  @Test
  void supportedGpusPass() {
    assertNull(Backend.cudaRefusal(List.of("NVIDIA A100-SXM4-40GB, 8.0", "NVIDIA GeForce RTX 3090, 8.6")));
    assertNull(Backend.cudaRefusal(List.of("NVIDIA GeForce RTX 4090, 8.9")));
    assertNull(Backend.cudaRefusal(List.of()));
  }

  @Test
  void loadedNativeBuildIsDescribed() {
    String d = Backend.description();
    assertTrue(d.startsWith("ND4J "), d);
    String os = System.getProperty("os.name").toLowerCase();
    String arch = System.getProperty("os.arch");
    // the CPU backend on linux-x86_64 (under -Pcuda the CUDA backend is loaded instead, with its own build)
    if (os.startsWith("linux") && (arch.equals("amd64") || arch.equals("x86_64")) && d.contains("CpuBackend")) {
      assertTrue(d.contains("native build linux-x86_64-onednn"), d);
    }
  }
}
