// The config of the bundled default model, models/dsv32-tiny (`--preset dsv32-tiny`): every V3.2 part at
// a size a 2-core machine pretrains in well under an hour — MLA with a q LoRA, the lightning indexer
// (index_topk 64 = a quarter of the 256-token training context, so DSA really selects), one dense layer
// then one MoE layer (8 routed experts, top-2 in 2 of 4 groups, a shared expert, sigmoid router with the
// aux-loss-free bias), one MTP layer, and our 8192-token tokenizer. kv_lora_rank and index_head_dim stay
// at 128 (the engine's FP8 caches quantise in groups of 128).
export function defaultModelConfig(): Record<string, unknown> {
  return {
    architectures: ['DeepseekV32ForCausalLM'],
    model_type: 'deepseek_v32',
    vocab_size: 8192,
    hidden_size: 128,
    intermediate_size: 384,
    moe_intermediate_size: 128,
    num_hidden_layers: 2,
    first_k_dense_replace: 1,
    moe_layer_freq: 1,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    n_routed_experts: 8,
    n_shared_experts: 1,
    num_experts_per_tok: 2,
    n_group: 4,
    topk_group: 2,
    scoring_func: 'sigmoid',
    topk_method: 'noaux_tc',
    norm_topk_prob: true,
    routed_scaling_factor: 2.5,
    q_lora_rank: 64,
    kv_lora_rank: 128,
    qk_nope_head_dim: 32,
    qk_rope_head_dim: 16,
    v_head_dim: 32,
    index_n_heads: 4,
    index_head_dim: 128,
    index_topk: 64,
    num_nextn_predict_layers: 1,
    max_position_embeddings: 4096,
    rope_theta: 10000,
    rope_scaling: null,
    rms_norm_eps: 1e-6,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    attention_bias: false,
    bos_token_id: 0,
    eos_token_id: 1,
    torch_dtype: 'bfloat16',
  };
}
