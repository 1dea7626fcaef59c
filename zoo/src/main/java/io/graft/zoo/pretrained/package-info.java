/** Descriptors of torchvision's pretrained checkpoints, found in a local cache and hash-checked (no downloads). */
package io.graft.zoo.pretrained;
