/**
 * Graft on Apache Spark (4.x, Scala 2.13): synchronous data-parallel fine-tuning in barrier mode, distributed
 * feature extraction and batch inference over Spark datasets.
 */
package io.graft.spark;
