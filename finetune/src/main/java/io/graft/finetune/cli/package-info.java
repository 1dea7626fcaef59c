/** The {@code graft} command line: inspect, predict, convert (picocli). */
package io.graft.finetune.cli;
