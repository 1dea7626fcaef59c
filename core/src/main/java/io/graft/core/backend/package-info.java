/**
 * Kernel backends for the heavy primitives: 2-D convolution, batch normalisation (with or without a fused ReLU) and
 * 2-D max and average pooling, each forward and backward.
 *
 * <p>The seam is {@link io.graft.core.backend.Kernels}. The ops ({@code io.graft.core.ops}) validate their arguments
 * ({@link io.graft.core.backend.Conv2dGeometry}, {@link io.graft.core.backend.Pool2dWindow}), ask
 * {@link io.graft.core.backend.Backends} which backend runs the call, and call it once forward and once backward;
 * they never see a backend's types. {@link io.graft.core.backend.Backends#ALL} lists the backends in the order they
 * are asked: oneDNN called directly ({@code OneDnnKernels}: float32 on ND4J's CPU backend; its primitives, plan
 * caches and scratch arena live in {@code OneDnn*}) and libnd4j ({@code Libnd4jKernels}: every dtype and every other
 * case). The fallback rule is the {@code supports...} answer and nothing else: a backend that cannot run a call says
 * no before it runs anything, and one that says yes runs the call and its backward. This package is the only one
 * that imports oneDNN ({@code org.bytedeco.dnnl}).
 *
 * <p>Every kernel a backend declares ({@link io.graft.core.backend.Kernels#kernels()},
 * {@link io.graft.core.backend.Kernel}) must have a check in the test registry ({@code KernelRegistryTest}): PyTorch's
 * fixtures, and float64 finite differences (libnd4j) or libnd4j's float64 results (any other backend).
 *
 * <h2>Adding a backend: cuDNN on a GPU (not built)</h2>
 * A cuDNN backend would be a third {@code Kernels}, {@code CudnnKernels}, over JavaCPP's CUDA 12 presets
 * ({@code org.bytedeco:cuda}, whose {@code cudnn} global class binds cuDNN 8/9):
 * <ol>
 *   <li>{@code supports...}: yes only when ND4J runs its CUDA backend (the arrays live in device memory; their
 *       {@code data().pointer()} is a device address), the dtype is float32 or float16 and cuDNN has an algorithm
 *       for the descriptor ({@code cudnnGetConvolutionForwardAlgorithm_v7} or the v8 graph API finds one); answers
 *       cached per shape, as {@code OneDnn.Cache} does.
 *   <li>A plan per shape, as {@code OneDnnConv.Plan}: tensor and filter descriptors ({@code NHWC} for channels_last
 *       activations), the convolution descriptor from {@link io.graft.core.backend.Conv2dGeometry} (groups through
 *       {@code cudnnSetConvolutionGroupCount}), the chosen forward, backward-data and backward-filter algorithms and
 *       their workspace sizes.
 *   <li>One cuDNN handle and one workspace arena per thread, bound to ND4J's CUDA stream for that thread (so kernels
 *       order with libnd4j's), grown and reused as {@code OneDnn.Arena} is; outputs allocated through ND4J so that
 *       {@link io.graft.core.NativeMemory} releases them.
 *   <li>Batch norm on {@code cudnnBatchNormalizationForwardTrainingEx} (its {@code CUDNN_BATCHNORM_OPS_BN_ACTIVATION}
 *       mode fuses the ReLU and keeps the reserve space the backward reads, the role of oneDNN's workspace); pooling
 *       on {@code cudnnPoolingForward}/{@code Backward}.
 *   <li>Put it first in {@link io.graft.core.backend.Backends#ALL} (the CPU backends already say no to device
 *       arrays: oneDNN only runs on ND4J's CPU backend) and give each kernel it declares a check in the registry.
 * </ol>
 */
package io.graft.core.backend;
