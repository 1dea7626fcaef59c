package io.graft.finetune.train;

/**
 * One epoch's figures: training loss and accuracy, validation metrics (NaN without a validation set), validation
 * accuracy per class (NaN for a class without examples) and confusion matrix (rows: true class, columns: predicted;
 * both {@code null} without a validation set), learning rate of each param group, wall time and throughput.
 */
public record EpochStats(int epoch, double trainLoss, double trainAccuracy, double valLoss, double valAccuracy,
    double valTop5, double[] valPerClassAccuracy, long[][] valConfusion, double[] lr, double seconds,
    double imagesPerSecond, boolean cached) {}
