/** Tensor file formats shared by every module: safetensors and crash-safe (atomic) file output. */
package io.graft.core.io;
