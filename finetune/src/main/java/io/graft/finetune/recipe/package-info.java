/** Fine-tuning recipes: head replacement, freezing strategies, discriminative learning rates, and the demo. */
package io.graft.finetune.recipe;
