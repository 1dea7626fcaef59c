/**
 * Data for fine-tuning: the {@link io.graft.finetune.data.Dataset} abstraction, IDX (MNIST, Fashion-MNIST) and
 * ImageFolder datasets, few-shot sampling and seeded splits, and the {@link io.graft.finetune.data.DataLoader}.
 */
package io.graft.finetune.data;
