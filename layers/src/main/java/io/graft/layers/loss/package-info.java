/** Criteria: CrossEntropyLoss (weights, ignore_index, label smoothing), MSELoss, BCEWithLogitsLoss. */
package io.graft.layers.loss;
