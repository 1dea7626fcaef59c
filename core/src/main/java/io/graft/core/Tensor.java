package io.graft.core;

import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Node;
import io.graft.core.ops.ActivationOps;
import io.graft.core.ops.ElementwiseOps;
import io.graft.core.ops.LinalgOps;
import io.graft.core.ops.ReductionOps;
import io.graft.core.ops.ShapeOps;
import io.graft.core.random.Rng;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An n-dimensional array ({@link INDArray}) with eager reverse-mode autograd, following PyTorch's semantics:
 * float32 by default, float64 for gradient checks, NCHW image layout, NumPy broadcasting.
 *
 * <p>A tensor is either a <em>leaf</em> (created by a factory; {@link #requiresGrad(boolean)} may be set and
 * {@link #grad()} accumulates) or the result of an op. An op records a graph node only when grad mode is on
 * and some input requires grad, so a frozen backbone records and keeps nothing.
 *
 * <p>Thread-safety: a tensor may be read from several threads (e.g. eval-mode inference); recording,
 * backward and in-place updates must be confined to one thread.
 */
public class Tensor {
  static {
    Backend.init();
  }

  private final INDArray data;
  private boolean requiresGrad;
  private Tensor grad;
  /** As a leaf's gradient: handed out by {@link #grad()} or supplied by {@link #setGrad}, so others may hold it. */
  private boolean shared;
  /**
   * A leaf's gradient buffer, kept across {@link #clearGrad()} for the next backward (Graft's own memory, dense, C
   * order): the current gradient's array, or a spare while the gradient is cleared. Null until a first gradient.
   */
  private INDArray gradBuffer;
  private Node gradFn;

  /** Wraps {@code data} (no copy) as a leaf that does not require grad; subclasses such as {@code Parameter} use it. Refuses a rank above {@link Shapes#MAX_RANK}. */
  protected Tensor(INDArray data) {
    if (data == null) {
      throw new IllegalArgumentException("Tensor: data is null");
    }
    if (data.rank() > Shapes.MAX_RANK) { // a backstop: the ops and readers check the shape before building it
      throw new ShapeException("Tensor: rank " + data.rank() + " exceeds the maximum of " + Shapes.MAX_RANK
          + " dimensions");
    }
    this.data = data;
  }

  // ---------------------------------------------------------------- factories

  /** Wraps an array (no copy); the result does not require grad. */
  public static Tensor of(INDArray data) {
    return new Tensor(data);
  }

  /** A float32 tensor of zeros ({@code torch.zeros}). */
  public static Tensor zeros(long... shape) {
    return zeros(DataType.FLOAT, shape);
  }

  /** A tensor of zeros of the given type. */
  public static Tensor zeros(DataType dtype, long... shape) {
    return new Tensor(Nd4j.create(dtype, Shapes.checkNew("zeros", shape)));
  }

  /** A float32 tensor of ones ({@code torch.ones}). */
  public static Tensor ones(long... shape) {
    return ones(DataType.FLOAT, shape);
  }

  /** A tensor of ones of the given type. */
  public static Tensor ones(DataType dtype, long... shape) {
    return full(dtype, 1.0, shape);
  }

  /** A float32 tensor filled with {@code value} ({@code torch.full}). */
  public static Tensor full(double value, long... shape) {
    return full(DataType.FLOAT, value, shape);
  }

  /** A tensor of the given type filled with {@code value}. */
  public static Tensor full(DataType dtype, double value, long... shape) {
    INDArray a = Nd4j.create(dtype, Shapes.checkNew("full", shape));
    if (value != 0) {
      a.assign(value);
    }
    return new Tensor(a);
  }

  /** A 0-dimensional tensor (shape {@code []}). */
  public static Tensor scalar(double value) {
    return scalar(DataType.FLOAT, value);
  }

  /** A 0-dimensional tensor of the given type. */
  public static Tensor scalar(DataType dtype, double value) {
    return new Tensor(Nd4j.scalar(dtype, value));
  }

  /** Standard normal samples from {@code rng}. */
  public static Tensor randn(Rng rng, long... shape) {
    return randn(DataType.FLOAT, rng, shape);
  }

  /** Standard normal samples from {@code rng}, converted to {@code dtype}. */
  public static Tensor randn(DataType dtype, Rng rng, long... shape) {
    long n = Shapes.numel(Shapes.checkNew("randn", shape));
    double[] v = new double[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextGaussian();
    }
    return fromArray(v, shape).to(dtype);
  }

  /** Uniform samples in [0, 1) from {@code rng}. */
  public static Tensor rand(Rng rng, long... shape) {
    return rand(DataType.FLOAT, rng, shape);
  }

  /** Uniform samples in [0, 1) from {@code rng}, converted to {@code dtype}. */
  public static Tensor rand(DataType dtype, Rng rng, long... shape) {
    long n = Shapes.numel(Shapes.checkNew("rand", shape));
    double[] v = new double[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextDouble();
    }
    return fromArray(v, shape).to(dtype);
  }

  /** float32 tensor from values in C (row-major) order. */
  public static Tensor fromArray(float[] values, long... shape) {
    Shapes.checkData("fromArray", values.length, shape);
    return new Tensor(Nd4j.create(values.clone(), shape, 'c'));
  }

  /** float64 tensor from values in C order. */
  public static Tensor fromArray(double[] values, long... shape) {
    Shapes.checkData("fromArray", values.length, shape);
    return new Tensor(Nd4j.create(values.clone(), shape, 'c'));
  }

  /** int64 tensor (e.g. class-index targets) from values in C order. */
  public static Tensor fromArray(long[] values, long... shape) {
    Shapes.checkData("fromArray", values.length, shape);
    return new Tensor(Nd4j.createFromArray(values.clone()).reshape('c', shape));
  }

  /** int64 tensor {@code [0, 1, ..., n-1]}. */
  public static Tensor arange(long n) {
    long[] v = new long[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) {
      v[i] = i;
    }
    return fromArray(v, n);
  }

  // ---------------------------------------------------------------- data

  /** The underlying array (no copy). Mutate it only under {@code GradMode.disabled()}, never on a graph tensor. */
  public INDArray data() {
    return data;
  }

  /**
   * The shape; {@code []} for a scalar. A copy: ND4J's {@code INDArray.shape()} is the array's live shape
   * information, so writing into it (building a neighbour's shape from this one) would change this tensor.
   */
  public long[] shape() {
    return data.shape().clone();
  }

  /** Size of dimension {@code dim}; negative counts from the end. */
  public long size(int dim) {
    return data.size(Shapes.dim("size", dim, rank()));
  }

  /** The number of dimensions ({@code dim()} in PyTorch). */
  public int rank() {
    return data.rank();
  }

  /** The number of elements. */
  public long numel() {
    return data.length();
  }

  /** The element type. */
  public DataType dtype() {
    return data.dataType();
  }

  /** The value of a one-element tensor. */
  public double item() {
    if (data.length() != 1) {
      throw ShapeException.of("item", "only a one-element tensor can be converted to a number", shape());
    }
    return data.getDouble(0);
  }

  /** Copy of the values in C order as float32. */
  public float[] toFloatArray() {
    return data.dup('c').castTo(DataType.FLOAT).data().asFloat();
  }

  /** Copy of the values in C order as float64. */
  public double[] toDoubleArray() {
    return data.dup('c').castTo(DataType.DOUBLE).data().asDouble();
  }

  /** Copy of the values in C order as int64. */
  public long[] toLongArray() {
    return data.dup('c').castTo(DataType.LONG).data().asLong();
  }

  /** This tensor converted to {@code dtype} (a differentiable copy for float types; itself if already so). */
  public Tensor to(DataType dtype) {
    return ElementwiseOps.cast(this, dtype);
  }

  // ---------------------------------------------------------------- autograd

  /** Whether operations on this tensor are recorded for gradients. */
  public boolean requiresGrad() {
    return requiresGrad;
  }

  /** Sets whether this leaf records operations for gradients. Returns {@code this}. */
  public Tensor requiresGrad(boolean flag) {
    if (gradFn != null) {
      throw new GraftException("requiresGrad(" + flag + ") on a non-leaf tensor (result of '" + gradFn.op()
          + "'); only leaves can change it. Use detach() to get a leaf.");
    }
    if (flag && !data.dataType().isFPType()) {
      throw new GraftException("requiresGrad(true) on a " + data.dataType() + " tensor; only floating-point "
          + "tensors can require gradients");
    }
    this.requiresGrad = flag;
    return this;
  }

  /** True for a tensor no recorded operation produced (user-created tensors and parameters). */
  public boolean isLeaf() {
    return gradFn == null;
  }

  /**
   * The accumulated gradient of a leaf, or null if none has been computed (or it was cleared). The tensor returned
   * stays valid after {@link #clearGrad()} (and so after an optimizer's or module's {@code zeroGrad()}): it keeps the
   * values it had, as in PyTorch, and its memory goes to the garbage collector.
   */
  public Tensor grad() {
    if (grad != null) {
      grad.shared = true;
    }
    return grad;
  }

  /**
   * Engine use (optimizers, gradient clipping, loss checks): the gradient's array, or null, without handing out
   * the gradient tensor. <b>The array is reused by the next backward after {@link #clearGrad()} (every
   * {@code zeroGrad()}):</b> the caller reads or updates it in place during its call and keeps no reference. Users
   * call {@link #grad()}, whose tensor is never overwritten or freed under them.
   */
  public INDArray gradData() {
    return grad == null ? null : grad.data;
  }

  /** Replaces (or with null clears) the gradient. A tensor passed here is the caller's: never freed by Graft. */
  public void setGrad(Tensor g) {
    if (g != null && !Arrays.equals(g.shape(), shape())) {
      throw ShapeException.of("setGrad", "gradient shape must equal the tensor's shape", g.shape(), shape());
    }
    if (g != null) {
      g.shared = true;
    }
    this.grad = g;
  }

  /**
   * Clears the gradient to null, as {@code setGrad(null)} (PyTorch's {@code zero_grad(set_to_none=True)}). A gradient
   * only Graft holds (backward computed it; it was never handed out by {@link #grad()} nor passed to {@link #setGrad})
   * keeps its memory as this leaf's gradient buffer: the next backward writes its gradient there (a kernel directly,
   * see {@link GradientSink}, or by a copy that overwrites every element), so it counts as zeroed without a pass
   * over it, and a training step's gradients land in the same pages every step instead of being freed and faulted in
   * again (on ResNet-18, 47 MB and ~12,000 page faults a step). A frozen leaf ({@code requiresGrad(false)}) frees
   * its buffer here. A gradient handed out is never reused or freed: it keeps its values, as in PyTorch.
   */
  public void clearGrad() {
    Tensor g = grad;
    grad = null;
    if (g != null && g.shared && g.data == gradBuffer) {
      gradBuffer = null;   // the caller holds it now
    } else if (g != null && !g.shared && g.data != gradBuffer) {
      NativeMemory.release(g.data);
    }
    if (!requiresGrad && gradBuffer != null) {
      NativeMemory.release(gradBuffer);
      gradBuffer = null;
    }
  }

  /**
   * Engine use: the buffer kept for this leaf's next gradient (see {@link #clearGrad()}) while it has none, or null.
   * Backward offers it to the kernel that computes the gradient ({@link GradientSink}).
   */
  public INDArray gradBuffer() {
    return grad == null && requiresGrad ? gradBuffer : null;
  }

  /**
   * Engine use: makes {@code g}, a first gradient that nothing else holds (backward's own, see {@code
   * Autograd.backward}; or this leaf's {@link #gradBuffer()} that a kernel wrote), this leaf's gradient without a
   * copy; it becomes the leaf's gradient buffer.
   */
  public void adoptGrad(INDArray g) {
    if (!Arrays.equals(g.shape(), shape())) {
      throw ShapeException.of("adoptGrad", "gradient shape must equal the tensor's shape", g.shape(), shape());
    }
    if (gradBuffer != null && gradBuffer != g) {
      NativeMemory.release(gradBuffer);
    }
    gradBuffer = g;
    this.grad = new Tensor(g);
  }

  /** The node that produced this tensor, or null for a leaf. */
  public Node gradFn() {
    return gradFn;
  }

  /** Engine use: attaches the recording node. */
  public void setGradFn(Node node) {
    this.gradFn = node;
    this.requiresGrad = true;
  }

  /** Engine use: adds {@code g} into this leaf's gradient. */
  public void accumulateGrad(INDArray g) {
    if (!requiresGrad) {
      return;
    }
    if (grad == null) {
      INDArray into = gradBuffer;
      if (into == null || into.dataType() != g.dataType() || !Arrays.equals(into.shape(), g.shape())) {
        NativeMemory.release(into);
        into = NativeMemory.lasting(g.dataType(), g.shape());
        gradBuffer = NativeMemory.isOwned(into) ? into : null;
      }
      grad = new Tensor(g.length() > 0 && into != g ? into.assign(g) : into);
    } else if (g.length() > 0) {
      grad.data.addi(g);
    }
  }

  /** Backward from a one-element tensor (seed 1); frees the graph. */
  public void backward() {
    if (data.length() != 1) {
      throw ShapeException.of("backward", "backward() without a gradient needs a one-element output; "
          + "pass the output gradient with backward(gradient)", shape());
    }
    Autograd.backward(this, Nd4j.ones(data.dataType(), shape()), false);
  }

  /** Backward with the given output gradient; frees the graph. */
  public void backward(Tensor gradient) {
    backward(gradient, false);
  }

  /** Backward with the given output gradient; keeps the graph for another backward if {@code retainGraph}. */
  public void backward(Tensor gradient, boolean retainGraph) {
    if (gradient.dtype() != dtype()) {
      throw ShapeException.of("backward", "gradient dtype " + gradient.dtype() + " differs from " + dtype(),
          gradient.shape(), shape());
    }
    Autograd.backward(this, gradient.data, retainGraph);
  }

  /** A leaf sharing this tensor's data, cut from the graph. */
  public Tensor detach() {
    return new Tensor(data);
  }

  // ---------------------------------------------------------------- ops (thin delegation to ops/*)

  /** {@code this + o}, broadcasting as NumPy. */
  public Tensor add(Tensor o) {
    return ElementwiseOps.add(this, o);
  }

  /** {@code this + s}. */
  public Tensor add(double s) {
    return ElementwiseOps.add(this, s);
  }

  /** {@code this - o}, broadcasting as NumPy. */
  public Tensor sub(Tensor o) {
    return ElementwiseOps.sub(this, o);
  }

  /** {@code this - s}. */
  public Tensor sub(double s) {
    return ElementwiseOps.add(this, -s);
  }

  /** Elementwise {@code this * o}, broadcasting as NumPy. */
  public Tensor mul(Tensor o) {
    return ElementwiseOps.mul(this, o);
  }

  /** {@code this * s}. */
  public Tensor mul(double s) {
    return ElementwiseOps.mul(this, s);
  }

  /** Elementwise {@code this / o}, broadcasting as NumPy. */
  public Tensor div(Tensor o) {
    return ElementwiseOps.div(this, o);
  }

  /** {@code this / s}. */
  public Tensor div(double s) {
    return ElementwiseOps.mul(this, 1.0 / s);
  }

  /** {@code -this}. */
  public Tensor neg() {
    return ElementwiseOps.neg(this);
  }

  /** Elementwise {@code this ** exponent}. */
  public Tensor pow(double exponent) {
    return ElementwiseOps.pow(this, exponent);
  }

  /** Elementwise exponential. */
  public Tensor exp() {
    return ElementwiseOps.exp(this);
  }

  /** Elementwise natural logarithm. */
  public Tensor log() {
    return ElementwiseOps.log(this);
  }

  /** Elementwise square root. */
  public Tensor sqrt() {
    return ElementwiseOps.sqrt(this);
  }

  /** Elementwise absolute value. */
  public Tensor abs() {
    return ElementwiseOps.abs(this);
  }

  /** Elementwise {@code min(max(this, min), max)} ({@code torch.clamp}). */
  public Tensor clamp(double min, double max) {
    return ElementwiseOps.clamp(this, min, max);
  }

  /** Matrix product with PyTorch's {@code matmul} rules (1-D operands, batched operands broadcast). */
  public Tensor matmul(Tensor o) {
    return LinalgOps.matmul(this, o);
  }

  /** Swaps two dimensions. */
  public Tensor transpose(int dim0, int dim1) {
    return ShapeOps.transpose(this, dim0, dim1);
  }

  /** The dimensions reordered: dimension {@code i} of the result is {@code dims[i]} of this tensor. */
  public Tensor permute(int... dims) {
    return ShapeOps.permute(this, dims);
  }

  /** Reshape; one dimension may be -1. */
  public Tensor reshape(long... shape) {
    return ShapeOps.reshape(this, shape);
  }

  /** Same as {@link #reshape} (Graft tensors are never mutated in place, so view and copy agree). */
  public Tensor view(long... shape) {
    return ShapeOps.reshape(this, shape);
  }

  /** Dimensions {@code startDim..endDim} (inclusive; negative counts from the end) merged into one. */
  public Tensor flatten(int startDim, int endDim) {
    return ShapeOps.flatten(this, startDim, endDim);
  }

  /** All dimensions merged into one. */
  public Tensor flatten() {
    return ShapeOps.flatten(this, 0, -1);
  }

  /** Dimension {@code dim} removed if its size is 1 (otherwise this tensor's shape is kept), as PyTorch. */
  public Tensor squeeze(int dim) {
    return ShapeOps.squeeze(this, dim);
  }

  /** A dimension of size 1 inserted at {@code dim}. */
  public Tensor unsqueeze(int dim) {
    return ShapeOps.unsqueeze(this, dim);
  }

  /** {@code x[start:end:step]} along {@code dim}. */
  public Tensor slice(int dim, long start, long end, long step) {
    return ShapeOps.slice(this, dim, start, end, step);
  }

  /** The sum of all elements, as a 0-dimensional tensor. */
  public Tensor sum() {
    return ReductionOps.sum(this);
  }

  /** The sum over {@code dims}, keeping them as size 1 if {@code keepDim}. */
  public Tensor sum(boolean keepDim, int... dims) {
    return ReductionOps.sum(this, keepDim, dims);
  }

  /** The mean of all elements, as a 0-dimensional tensor. */
  public Tensor mean() {
    return ReductionOps.mean(this);
  }

  /** The mean over {@code dims}, keeping them as size 1 if {@code keepDim}. */
  public Tensor mean(boolean keepDim, int... dims) {
    return ReductionOps.mean(this, keepDim, dims);
  }

  /** The maximum over {@code dims} (values only), keeping them as size 1 if {@code keepDim}. */
  public Tensor max(boolean keepDim, int... dims) {
    return ReductionOps.max(this, keepDim, dims);
  }

  /** The minimum over {@code dims} (values only), keeping them as size 1 if {@code keepDim}. */
  public Tensor min(boolean keepDim, int... dims) {
    return ReductionOps.min(this, keepDim, dims);
  }

  /** Elementwise {@code max(this, 0)}. */
  public Tensor relu() {
    return ActivationOps.relu(this);
  }

  /** Elementwise logistic sigmoid. */
  public Tensor sigmoid() {
    return ActivationOps.sigmoid(this);
  }

  /** Elementwise hyperbolic tangent. */
  public Tensor tanh() {
    return ActivationOps.tanh(this);
  }

  /** Softmax along {@code dim}. */
  public Tensor softmax(int dim) {
    return ActivationOps.softmax(this, dim);
  }

  /** Log-softmax along {@code dim} (computed stably, not as {@code log(softmax)}). */
  public Tensor logSoftmax(int dim) {
    return ActivationOps.logSoftmax(this, dim);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Tensor(shape=").append(Arrays.toString(shape()))
        .append(", dtype=").append(dtype());
    if (gradFn != null) {
      sb.append(", grad_fn=").append(gradFn.op());
    } else if (requiresGrad) {
      sb.append(", requires_grad=true");
    }
    if (numel() <= 16) {
      sb.append(", ").append(data.toString().replaceAll("\\s+", " "));
    }
    return sb.append(')').toString();
  }
}
