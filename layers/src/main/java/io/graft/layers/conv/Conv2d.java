package io.graft.layers.conv;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.ConvOps;
import io.graft.core.random.Rng;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * 2-D convolution over NCHW input.
 *
 * <p>Shapes: input {@code (N, C_in, H, W)}, weight {@code (C_out, C_in / groups, kH, kW)}, bias {@code (C_out)},
 * output {@code (N, C_out, H_out, W_out)}, {@code H_out = (H + 2 padding - dilation (kH - 1) - 1) / stride + 1}.
 * Initialisation as PyTorch: kaiming_uniform(a = √5) for the weight, U(-1/√fan_in, 1/√fan_in) for the bias.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html">torch.nn.Conv2d</a>
 */
@HoldsNoIntermediates
public final class Conv2d extends Module {
  /** Optional settings; {@code defaults()} is stride 1, padding 0, dilation 1, groups 1, with bias. */
  public record Options(int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups,
      boolean bias, Rng rng) {
    /** Stride 1, padding 0, dilation 1, one group, with bias. */
    public static Options defaults() {
      return new Options(1, 1, 0, 0, 1, 1, 1, true, null);
    }

    /** The same stride in both spatial dimensions. */
    public Options withStride(int s) {
      return withStride(s, s);
    }

    /** Stride along height and width. */
    public Options withStride(int h, int w) {
      return new Options(h, w, padH, padW, dilationH, dilationW, groups, bias, rng);
    }

    /** The same zero padding on every side. */
    public Options withPadding(int p) {
      return withPadding(p, p);
    }

    /** Zero padding on the top and bottom ({@code h}) and on the left and right ({@code w}). */
    public Options withPadding(int h, int w) {
      return new Options(strideH, strideW, h, w, dilationH, dilationW, groups, bias, rng);
    }

    /** The same dilation in both spatial dimensions. */
    public Options withDilation(int d) {
      return withDilation(d, d);
    }

    /** Dilation along height and width. */
    public Options withDilation(int h, int w) {
      return new Options(strideH, strideW, padH, padW, h, w, groups, bias, rng);
    }

    /** Grouped convolution: both channel counts must be divisible by {@code g}. */
    public Options withGroups(int g) {
      return new Options(strideH, strideW, padH, padW, dilationH, dilationW, g, bias, rng);
    }

    /** Whether the layer has a bias. */
    public Options withBias(boolean b) {
      return new Options(strideH, strideW, padH, padW, dilationH, dilationW, groups, b, rng);
    }

    /** Generator for the initial weights (default: {@code Init.defaultRng()}). */
    public Options withRng(Rng r) {
      return new Options(strideH, strideW, padH, padW, dilationH, dilationW, groups, bias, r);
    }
  }

  private final int inChannels;
  private final int outChannels;
  private final int kH;
  private final int kW;
  private final Options o;
  private final Parameter weight;
  private final Parameter bias;

  /** A square {@code kernelSize} convolution with the default options. */
  public Conv2d(int inChannels, int outChannels, int kernelSize) {
    this(inChannels, outChannels, kernelSize, kernelSize, Options.defaults());
  }

  /** A square {@code kernelSize} convolution. */
  public Conv2d(int inChannels, int outChannels, int kernelSize, Options options) {
    this(inChannels, outChannels, kernelSize, kernelSize, options);
  }

  /** A {@code kH × kW} convolution; weights initialised as PyTorch's, from the options' generator. */
  public Conv2d(int inChannels, int outChannels, int kH, int kW, Options options) {
    if (inChannels < 1 || outChannels < 1 || kH < 1 || kW < 1) {
      throw new GraftException("Conv2d: channels and kernel size must be positive, got in=" + inChannels + ", out="
          + outChannels + ", kernel=" + kH + "x" + kW);
    }
    if (options.groups() < 1 || inChannels % options.groups() != 0 || outChannels % options.groups() != 0) {
      throw new GraftException("Conv2d: in_channels " + inChannels + " and out_channels " + outChannels
          + " must be divisible by groups " + options.groups());
    }
    if (options.strideH() < 1 || options.strideW() < 1 || options.dilationH() < 1 || options.dilationW() < 1
        || options.padH() < 0 || options.padW() < 0) {
      throw new GraftException("Conv2d: invalid stride/padding/dilation " + options);
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kH = kH;
    this.kW = kW;
    this.o = options;
    weight = registerParameter("weight",
        new Parameter(Tensor.zeros(outChannels, inChannels / options.groups(), kH, kW).data()));
    bias = options.bias() ? registerParameter("bias", new Parameter(Tensor.zeros(outChannels).data())) : null;
    resetParameters(options.rng() == null ? Init.defaultRng() : options.rng());
  }

  /** PyTorch's default initialisation. */
  public void resetParameters(Rng rng) {
    Init.kaimingUniform(weight, Math.sqrt(5), "fan_in", "leaky_relu", rng);
    if (bias != null) {
      double bound = 1 / Math.sqrt(Init.fans(weight.shape())[0]);
      Init.uniform(bias, -bound, bound, rng);
    }
  }

  /** The weight, shape {@code [out, in/groups, kH, kW]}. */
  public Parameter weight() {
    return weight;
  }

  /** The bias, or null without one. */
  public Parameter bias() {
    return bias;
  }

  /** The options this layer was built with. */
  public Options options() {
    return o;
  }

  /** Input channels. */
  public int inChannels() {
    return inChannels;
  }

  /** Output channels. */
  public int outChannels() {
    return outChannels;
  }

  @Override
  public Tensor forward(Tensor x) {
    return ConvOps.conv2d(x, weight, bias, new int[] {o.strideH(), o.strideW()}, new int[] {o.padH(), o.padW()},
        new int[] {o.dilationH(), o.dilationW()}, o.groups());
  }

  @Override
  protected String extraRepr() {
    StringBuilder sb = new StringBuilder().append(inChannels).append(", ").append(outChannels)
        .append(", kernel_size=(").append(kH).append(", ").append(kW).append("), stride=(").append(o.strideH())
        .append(", ").append(o.strideW()).append(')');
    if (o.padH() != 0 || o.padW() != 0) {
      sb.append(", padding=(").append(o.padH()).append(", ").append(o.padW()).append(')');
    }
    if (o.dilationH() != 1 || o.dilationW() != 1) {
      sb.append(", dilation=(").append(o.dilationH()).append(", ").append(o.dilationW()).append(')');
    }
    if (o.groups() != 1) {
      sb.append(", groups=").append(o.groups());
    }
    if (bias == null) {
      sb.append(", bias=False");
    }
    return sb.toString();
  }
}
