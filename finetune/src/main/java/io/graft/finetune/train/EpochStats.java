package io.graft.finetune.train;

/**
 * One epoch's figures: training loss and accuracy, validation metrics (NaN without a validation set), learning rate
 * of each param group, wall time and throughput.
 */
public record EpochStats(int epoch, double trainLoss, double trainAccuracy, double valLoss, double valAccuracy,
    double valTop5, double[] lr, double seconds, double imagesPerSecond, boolean cached) {}
