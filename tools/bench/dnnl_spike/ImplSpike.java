// Measurement spike (see run.sh): every oneDNN implementation of a convolution (forward, backward data, backward
// weights) at ResNet-18 shapes, with activations channels_last (nhwc) or in oneDNN's choice of layout (any), timed
// one by one (median of 11 after 5 warm-up runs). Not part of the build. Behind OneDnnConv's choice of forward kernel.
import org.bytedeco.dnnl.*;
import org.bytedeco.javacpp.*;
import static org.bytedeco.dnnl.global.dnnl.*;
import java.util.*;
public class ImplSpike {
  static void ck(int s, String w) { if (s != 0) throw new RuntimeException(w + " status " + s); }
  static dnnl_engine eng; static dnnl_stream st;
  static dnnl_memory_desc_t md(long[] dims, int tag) { dnnl_memory_desc_t m = new dnnl_memory_desc_t(); ck(dnnl_memory_desc_init_by_tag(m, dims.length, dims, dnnl_f32, tag), "md"); return m; }
  static dnnl_memory alloc(dnnl_memory_desc_t m) { dnnl_memory r = new dnnl_memory(); FloatPointer p = new FloatPointer(Math.max(1, dnnl_memory_desc_get_size(m) / 4)); for (long i = 0; i < p.capacity(); i++) p.put(i, (float) Math.sin(i)); ck(dnnl_memory_create(r, m, eng, p), "mem"); return r; }
  static void exec(dnnl_primitive p, int[] args, dnnl_memory[] mems) {
    dnnl_exec_arg_t a = new dnnl_exec_arg_t(args.length);
    for (int i = 0; i < args.length; i++) a.position(i).arg(args[i]).memory(mems[i]);
    ck(dnnl_primitive_execute(p, st, args.length, a.position(0)), "exec"); ck(dnnl_stream_wait(st), "wait"); }
  static double t(Runnable r) { for (int i = 0; i < 5; i++) r.run(); double[] ts = new double[11];
    for (int i = 0; i < ts.length; i++) { long t0 = System.nanoTime(); r.run(); ts[i] = (System.nanoTime() - t0) / 1e6; } Arrays.sort(ts); return ts[5]; }
  public static void main(String[] a) {
    eng = new dnnl_engine(); ck(dnnl_engine_create(eng, dnnl_cpu, 0), "engine");
    st = new dnnl_stream(); ck(dnnl_stream_create(st, eng, dnnl_stream_default_flags), "stream");
    int[][] cfg = {{8,3,64,7,2,224},{32,3,64,7,2,64},{32,512,512,3,1,2},{32,256,512,3,2,4},{32,256,256,3,1,4},{32,64,64,3,1,16},{8,64,64,3,1,56},{8,512,512,3,1,7},{8,128,128,3,1,28}};
    for (int[] c : cfg) {
      int n = c[0], cin = c[1], cout = c[2], k = c[3], s = c[4], hw = c[5], p = k / 2, ho = (hw + 2 * p - k) / s + 1;
      long[] xs = {n, cin, hw, hw}, ws = {cout, cin, k, k}, ys = {n, cout, ho, ho};
      for (int kind = 0; kind < 3; kind++) {
        for (int tag : new int[] {dnnl_nhwc, dnnl_format_tag_any}) {
          dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
          long[] ss = {s, s}, pp = {p, p};
          if (kind == 0) ck(dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, md(xs, tag), md(ws, dnnl_format_tag_any), null, md(ys, tag), ss, pp, pp), "cd");
          else if (kind == 1) ck(dnnl_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, md(xs, tag), md(ws, dnnl_format_tag_any), md(ys, tag), ss, pp, pp), "cd");
          else ck(dnnl_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, md(xs, tag), md(ws, dnnl_format_tag_any), null, md(ys, tag), ss, pp, pp), "cd");
          dnnl_primitive_desc hint = null;
          if (kind > 0) { dnnl_convolution_desc_t fd = new dnnl_convolution_desc_t(); ck(dnnl_convolution_forward_desc_init(fd, dnnl_forward_training, dnnl_convolution_direct, md(xs, tag), md(ws, dnnl_format_tag_any), null, md(ys, tag), ss, pp, pp), "fd"); hint = new dnnl_primitive_desc(); ck(dnnl_primitive_desc_create(hint, new const_dnnl_op_desc_t(fd), null, eng, null), "hint"); }
          dnnl_primitive_desc_iterator it = new dnnl_primitive_desc_iterator();
          ck(dnnl_primitive_desc_iterator_create(it, new const_dnnl_op_desc_t(cd), null, eng, hint), "it");
          int count = 0;
          do {
            dnnl_primitive_desc pd = dnnl_primitive_desc_iterator_fetch(it);
            PointerPointer<BytePointer> name = new PointerPointer<>(1);
            ck(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, name), "name");
            String impl = name.get(BytePointer.class, 0).getString();
            if (impl.startsWith("ref") || impl.contains("gemm")) { if (++count > 6) break; continue; }
            dnnl_primitive prim = new dnnl_primitive(); ck(dnnl_primitive_create(prim, pd), "prim");
            dnnl_memory_desc_t m0 = dnnl_primitive_desc_query_md(pd, kind == 0 ? dnnl_query_src_md : kind == 1 ? dnnl_query_diff_dst_md : dnnl_query_src_md, 0);
            dnnl_memory_desc_t m1 = dnnl_primitive_desc_query_md(pd, kind == 2 ? dnnl_query_diff_dst_md : dnnl_query_weights_md, 0);
            dnnl_memory_desc_t m2 = dnnl_primitive_desc_query_md(pd, kind == 0 ? dnnl_query_dst_md : kind == 1 ? dnnl_query_diff_src_md : dnnl_query_diff_weights_md, 0);
            dnnl_memory_desc_t sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            dnnl_memory a0 = alloc(m0), a1 = alloc(m1), a2 = alloc(m2), as = alloc(sp);
            int[] args = kind == 0 ? new int[]{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD} : kind == 1 ? new int[]{DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC, DNNL_ARG_SCRATCHPAD} : new int[]{DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_SCRATCHPAD};
            double ms = t(() -> exec(prim, args, new dnnl_memory[]{a0, a1, a2, as}));
            System.out.printf("%s %s %s %-28s %7.2f ms%n", Arrays.toString(c), new String[]{"fwd","bwd_d","bwd_w"}[kind], tag == dnnl_nhwc ? "nhwc" : "any ", impl, ms);
            if (++count > 6) break;
          } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
        }
      }
    }
  }
}
