// Measurement spike (see run.sh): oneDNN convolution primitives called directly vs libnd4j conv2d / conv2d_bp.
// Not part of the build. Argument: forward (default) or backward.
import org.bytedeco.dnnl.*;
import org.bytedeco.javacpp.*;
import static org.bytedeco.dnnl.global.dnnl.*;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.buffer.DataType;
import java.util.*;
public class ConvSpike {
  static void ck(int s, String w) { if (s != 0) throw new RuntimeException(w + " status " + s); }
  static dnnl_engine eng; static dnnl_stream st;
  static dnnl_memory_desc_t md(long[] dims, int tag) { dnnl_memory_desc_t m = new dnnl_memory_desc_t(); ck(dnnl_memory_desc_init_by_tag(m, dims.length, dims, dnnl_f32, tag), "md"); return m; }
  static dnnl_memory mem(dnnl_memory_desc_t m, Pointer data) { dnnl_memory r = new dnnl_memory(); ck(dnnl_memory_create(r, m, eng, data), "mem"); return r; }
  static dnnl_memory alloc(dnnl_memory_desc_t m) { return mem(m, new FloatPointer(dnnl_memory_desc_get_size(m) / 4)); }
  static dnnl_primitive reorder(dnnl_memory_desc_t from, dnnl_memory_desc_t to) {
    dnnl_primitive_desc pd = new dnnl_primitive_desc(); ck(dnnl_reorder_primitive_desc_create(pd, from, eng, to, eng, null), "rpd");
    dnnl_primitive p = new dnnl_primitive(); ck(dnnl_primitive_create(p, pd), "rp"); return p; }
  static void exec(dnnl_primitive p, int[] args, dnnl_memory[] mems) {
    dnnl_exec_arg_t a = new dnnl_exec_arg_t(args.length);
    for (int i = 0; i < args.length; i++) a.position(i).arg(args[i]).memory(mems[i]);
    ck(dnnl_primitive_execute(p, st, args.length, a.position(0)), "exec"); ck(dnnl_stream_wait(st), "wait"); }
  static double t(Runnable r) { for (int i = 0; i < 10; i++) r.run(); double[] ts = new double[21];
    for (int i = 0; i < ts.length; i++) { long t0 = System.nanoTime(); r.run(); ts[i] = (System.nanoTime() - t0) / 1e6; } Arrays.sort(ts); return ts[10]; }
  public static void main(String[] a) {
    boolean backward = a.length > 0 && a[0].equals("backward");
    io.graft.core.Tensor.zeros(1);
    Nd4j.getEnvironment().setMaxThreads(2);
    eng = new dnnl_engine(); ck(dnnl_engine_create(eng, dnnl_cpu, 0), "engine");
    st = new dnnl_stream(); ck(dnnl_stream_create(st, eng, dnnl_stream_default_flags), "stream");
    System.out.println("oneDNN " + dnnl_version().major() + "." + dnnl_version().minor() + "." + dnnl_version().patch());
    if (backward) {
      backward();
    } else {
      forward();
    }
  }

  static void forward() {
    int[][] cfg = {{3,64,7,2,224},{64,64,3,1,56},{128,128,3,1,28},{256,256,3,1,14},{512,512,3,1,7}};
    for (int[] c : cfg) {
      int cin = c[0], cout = c[1], k = c[2], s = c[3], hw = c[4], p = k / 2, ho = (hw + 2 * p - k) / s + 1;
      long[] xs = {8, cin, hw, hw}, ws = {cout, cin, k, k}, ys = {8, cout, ho, ho};
      dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
      ck(dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, md(xs, dnnl_format_tag_any), md(ws, dnnl_format_tag_any), null, md(ys, dnnl_format_tag_any), new long[]{s, s}, new long[]{p, p}, new long[]{p, p}), "cd");
      dnnl_primitive_desc pd = new dnnl_primitive_desc(); ck(dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(cd), null, eng, null), "pd");
      dnnl_primitive conv = new dnnl_primitive(); ck(dnnl_primitive_create(conv, pd), "conv");
      dnnl_memory_desc_t srcMd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), wMd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), dstMd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
      INDArray x = Nd4j.rand(DataType.FLOAT, xs), w = Nd4j.rand(DataType.FLOAT, ws), y = Nd4j.create(DataType.FLOAT, ys);
      dnnl_memory xu = mem(md(xs, dnnl_nchw), x.data().pointer()), wu = mem(md(ws, dnnl_oihw), w.data().pointer()), yu = mem(md(ys, dnnl_nchw), y.data().pointer());
      dnnl_memory xb = alloc(srcMd), wb = alloc(wMd), yb = alloc(dstMd);
      dnnl_primitive rx = reorder(md(xs, dnnl_nchw), srcMd), rw = reorder(md(ws, dnnl_oihw), wMd), ry = reorder(dstMd, md(ys, dnnl_nchw));
      exec(rw, new int[]{DNNL_ARG_FROM, DNNL_ARG_TO}, new dnnl_memory[]{wu, wb});
      double convOnly = t(() -> exec(conv, new int[]{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}, new dnnl_memory[]{xb, wb, yb}));
      double withReorders = t(() -> { exec(rx, new int[]{DNNL_ARG_FROM, DNNL_ARG_TO}, new dnnl_memory[]{xu, xb});
        exec(conv, new int[]{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}, new dnnl_memory[]{xb, wb, yb});
        exec(ry, new int[]{DNNL_ARG_FROM, DNNL_ARG_TO}, new dnnl_memory[]{yb, yu}); });
      INDArray y2 = Nd4j.create(DataType.FLOAT, ys);
      double nd4j = t(() -> Nd4j.exec(DynamicCustomOp.builder("conv2d").addInputs(x, w).addOutputs(y2).addIntegerArguments(k,k,s,s,p,p,1,1,0,0,1).build()));
      System.out.printf("%s dnnl conv %.2f, with nchw reorders %.2f | libnd4j conv2d %.2f | max diff %.2e%n", Arrays.toString(c), convOnly, withReorders, nd4j, y.sub(y2).amaxNumber().doubleValue());
    }
  }

  static void backward() {
    int[][] cfg = {{3,64,7,2,224},{64,64,3,1,56},{64,128,3,2,56},{128,128,3,1,28},{256,256,3,1,14},{512,512,3,1,7}};
    for (int[] c : cfg) {
      int cin = c[0], cout = c[1], k = c[2], s = c[3], hw = c[4], p = k / 2, ho = (hw + 2 * p - k) / s + 1;
      long[] xs = {8, cin, hw, hw}, ws = {cout, cin, k, k}, ys = {8, cout, ho, ho};
      long[] st2 = {s, s}, pp = {p, p};
      dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
      ck(dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, md(xs, dnnl_format_tag_any), md(ws, dnnl_format_tag_any), null, md(ys, dnnl_format_tag_any), st2, pp, pp), "cd");
      dnnl_primitive_desc fpd = new dnnl_primitive_desc(); ck(dnnl_primitive_desc_create(fpd, new const_dnnl_op_desc_t(cd), null, eng, null), "fpd");
      dnnl_convolution_desc_t bdd = new dnnl_convolution_desc_t();
      ck(dnnl_convolution_backward_data_desc_init(bdd, dnnl_convolution_direct, md(xs, dnnl_format_tag_any), md(ws, dnnl_format_tag_any), md(ys, dnnl_format_tag_any), st2, pp, pp), "bdd");
      dnnl_primitive_desc bdpd = new dnnl_primitive_desc(); ck(dnnl_primitive_desc_create(bdpd, new const_dnnl_op_desc_t(bdd), null, eng, fpd), "bdpd");
      dnnl_convolution_desc_t bwd = new dnnl_convolution_desc_t();
      ck(dnnl_convolution_backward_weights_desc_init(bwd, dnnl_convolution_direct, md(xs, dnnl_format_tag_any), md(ws, dnnl_format_tag_any), null, md(ys, dnnl_format_tag_any), st2, pp, pp), "bwd");
      dnnl_primitive_desc bwpd = new dnnl_primitive_desc(); ck(dnnl_primitive_desc_create(bwpd, new const_dnnl_op_desc_t(bwd), null, eng, fpd), "bwpd");
      dnnl_primitive bdp = new dnnl_primitive(); ck(dnnl_primitive_create(bdp, bdpd), "bdp");
      dnnl_primitive bwp = new dnnl_primitive(); ck(dnnl_primitive_create(bwp, bwpd), "bwp");
      dnnl_memory_desc_t bdDst = dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_dst_md, 0), bdW = dnnl_primitive_desc_query_md(bdpd, dnnl_query_weights_md, 0), bdSrc = dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_src_md, 0);
      dnnl_memory_desc_t bwSrc = dnnl_primitive_desc_query_md(bwpd, dnnl_query_src_md, 0), bwDst = dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_dst_md, 0), bwW = dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 0);
      INDArray x = Nd4j.rand(DataType.FLOAT, xs), w = Nd4j.rand(DataType.FLOAT, ws), g = Nd4j.rand(DataType.FLOAT, ys);
      INDArray gx = Nd4j.create(DataType.FLOAT, xs), gw = Nd4j.create(DataType.FLOAT, ws);
      dnnl_memory xu = mem(md(xs, dnnl_nchw), x.data().pointer()), wu = mem(md(ws, dnnl_oihw), w.data().pointer()), gu = mem(md(ys, dnnl_nchw), g.data().pointer());
      dnnl_memory gxu = mem(md(xs, dnnl_nchw), gx.data().pointer()), gwu = mem(md(ws, dnnl_oihw), gw.data().pointer());
      dnnl_memory gbd = alloc(bdDst), wbd = alloc(bdW), sbd = alloc(bdSrc), xbw = alloc(bwSrc), gbw = alloc(bwDst), wbw = alloc(bwW);
      dnnl_primitive r1 = reorder(md(ys, dnnl_nchw), bdDst), r2 = reorder(md(ws, dnnl_oihw), bdW), r3 = reorder(bdSrc, md(xs, dnnl_nchw));
      dnnl_primitive r4 = reorder(md(xs, dnnl_nchw), bwSrc), r5 = reorder(md(ys, dnnl_nchw), bwDst), r6 = reorder(bwW, md(ws, dnnl_oihw));
      int[] fromTo = {DNNL_ARG_FROM, DNNL_ARG_TO};
      double weightsOnly = t(() -> { exec(r4, fromTo, new dnnl_memory[]{xu, xbw}); exec(r5, fromTo, new dnnl_memory[]{gu, gbw});
        exec(bwp, new int[]{DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}, new dnnl_memory[]{xbw, gbw, wbw}); exec(r6, fromTo, new dnnl_memory[]{wbw, gwu}); });
      double dataOnly = t(() -> { exec(r1, fromTo, new dnnl_memory[]{gu, gbd}); exec(r2, fromTo, new dnnl_memory[]{wu, wbd});
        exec(bdp, new int[]{DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC}, new dnnl_memory[]{gbd, wbd, sbd}); exec(r3, fromTo, new dnnl_memory[]{sbd, gxu}); });
      INDArray gx2 = Nd4j.create(DataType.FLOAT, xs), gw2 = Nd4j.create(DataType.FLOAT, ws);
      double nd4j = t(() -> Nd4j.exec(DynamicCustomOp.builder("conv2d_bp").addInputs(x, w, g).addOutputs(gx2, gw2).addIntegerArguments(k,k,s,s,p,p,1,1,0,0,1).build()));
      System.out.printf("%s dnnl bwd weights %.2f + data %.2f = %.2f | libnd4j conv2d_bp %.2f | rel diff gw %.1e gx %.1e%n", Arrays.toString(c), weightsOnly, dataOnly, weightsOnly + dataOnly, nd4j,
        gw.sub(gw2).amaxNumber().doubleValue() / gw2.amaxNumber().doubleValue(), gx.sub(gx2).amaxNumber().doubleValue() / gx2.amaxNumber().doubleValue());
    }
  }
}
