package io.graft.finetune.data;

/** An image and its class index. */
public record Example(Image image, int label) {}
