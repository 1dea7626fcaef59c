/**
 * The {@code graft} command line (picocli): demo, finetune, eval, predict, inspect, convert. Conventions shared by
 * every command: one flag name per concept ({@code --batch-size}, {@code --workers}, {@code --out},
 * {@code --image-size}, {@code --data}), defaults shown in {@code --help}, nothing logged but warnings unless
 * {@code -v} ({@link io.graft.finetune.cli.CliLogging}), bad input as one {@code graft: error:} line and exit
 * status 2.
 */
package io.graft.finetune.cli;
