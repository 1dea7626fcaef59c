import static org.bytedeco.dnnl.global.dnnl.*;

import org.bytedeco.dnnl.*;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Can Graft's own kernels use oneDNN 3.x beside ND4J 1.0.0-M2.1? Runs ND4J ops (conv2d against a naive loop, mmul) on
 * javacpp 1.5.12, then a oneDNN 3.8.1 primitive through bytedeco's binding in the same process, then ND4J again. See
 * run.sh and docs/benchmarks.md (oneDNN 3.x).
 */
public class OneDnn3Probe {
  static void check(int st, String w) { if (st != dnnl_success) throw new RuntimeException(w + " " + st); }
  public static void main(String[] a) {
    System.out.println("javacpp " + org.bytedeco.javacpp.Loader.class.getPackage().getImplementationVersion());
    Nd4j.getRandom().setSeed(1);
    INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 8, 8).subi(0.5);
    INDArray w = Nd4j.rand(DataType.FLOAT, 4, 3, 3, 3).subi(0.5); // oihw
    // ND4J conv2d: weights [kH,kW,iC,oC] in its default layout
    INDArray wNd = w.permute(2, 3, 1, 0).dup();
    DynamicCustomOp op = DynamicCustomOp.builder("conv2d").addInputs(x, wNd)
        .addIntegerArguments(3, 3, 1, 1, 1, 1, 1, 1, 0, 0).build();
    INDArray y = Nd4j.getExecutioner().exec(op)[0];
    // naive reference
    double maxErr = 0;
    for (int n = 0; n < 2; n++) for (int o = 0; o < 4; o++) for (int i = 0; i < 8; i++) for (int j = 0; j < 8; j++) {
      double s = 0;
      for (int c = 0; c < 3; c++) for (int ki = 0; ki < 3; ki++) for (int kj = 0; kj < 3; kj++) {
        int ii = i + ki - 1, jj = j + kj - 1;
        if (ii >= 0 && ii < 8 && jj >= 0 && jj < 8) s += x.getDouble(n, c, ii, jj) * w.getDouble(o, c, ki, kj);
      }
      maxErr = Math.max(maxErr, Math.abs(s - y.getDouble(n, o, i, j)));
    }
    System.out.println("nd4j conv2d max err vs naive: " + maxErr);
    System.out.println("nd4j matmul: " + Nd4j.create(new float[] {1, 2, 3, 4}, 2, 2).mmul(Nd4j.eye(2).castTo(DataType.FLOAT)));
    dnnl_version_t v = dnnl_version();
    System.out.println("dnnl (bytedeco binding) " + v.major() + "." + v.minor() + "." + v.patch() + " cpu_runtime " + v.cpu_runtime());
    dnnl_engine eng = new dnnl_engine();
    check(dnnl_engine_create(eng, dnnl_cpu, 0), "engine");
    dnnl_stream s = new dnnl_stream();
    check(dnnl_stream_create(s, eng, dnnl_stream_default_flags), "stream");
    dnnl_memory_desc md = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_tag(md, 1, new long[] {5}, dnnl_f32, dnnl_a), "md");
    dnnl_primitive_desc pd = new dnnl_primitive_desc();
    check(dnnl_eltwise_forward_primitive_desc_create(pd, eng, dnnl_forward_inference, dnnl_eltwise_relu, md, md, 0f, 0f, null), "pd");
    dnnl_primitive p = new dnnl_primitive();
    check(dnnl_primitive_create(p, pd), "prim");
    FloatPointer in = new FloatPointer(-2f, -1f, 0f, 1f, 2f);
    FloatPointer out = new FloatPointer(5);
    dnnl_memory mi = new dnnl_memory(), mo = new dnnl_memory();
    check(dnnl_memory_create(mi, md, eng, in), "mi");
    check(dnnl_memory_create(mo, md, eng, out), "mo");
    dnnl_exec_arg_t args = new dnnl_exec_arg_t(2);
    args.position(0).arg(DNNL_ARG_SRC).memory(mi);
    args.position(1).arg(DNNL_ARG_DST).memory(mo);
    check(dnnl_primitive_execute(p, s, 2, args.position(0)), "exec");
    check(dnnl_stream_wait(s), "wait");
    float[] r = new float[5]; out.get(r);
    System.out.println("dnnl3 relu: " + java.util.Arrays.toString(r));
    INDArray y2 = Nd4j.getExecutioner().exec(DynamicCustomOp.builder("conv2d").addInputs(x, wNd)
        .addIntegerArguments(3, 3, 1, 1, 1, 1, 1, 1, 0, 0).build())[0];
    System.out.println("nd4j conv2d again, equal: " + y2.equals(y));
  }
}
