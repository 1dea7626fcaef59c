/** torchvision architectures with torchvision's module names: ResNet, VGG, MobileNetV2, and the {@link io.graft.zoo.models.Zoo} registry. */
package io.graft.zoo.models;
