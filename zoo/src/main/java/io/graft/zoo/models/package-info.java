/**
 * torchvision architectures with torchvision's module names: ResNet, VGG, MobileNetV2, the demo SmallCNN, and the
 * {@link io.graft.zoo.models.Zoo} registry. Each is a {@link io.graft.zoo.models.Classifier} whose head can be
 * replaced ({@code replace(headPath, module)}), and each declares
 * {@link io.graft.layers.HoldsNoIntermediates}, so a frozen backbone frees its activations as they are consumed.
 */
package io.graft.zoo.models;
