// Small DeepSeek-V3.2-shaped configs (HF config.json objects) for tests, benchmarks and first runs.
// Every V3.2 feature is present (q LoRA, MLA, indexer, YaRN, dense + MoE layers, groups, shared
// expert, MTP); kv_lora_rank and index_head_dim stay at 128 because the engine's FP8 caches need it.
export function presetConfig(name: 'tiny' | 'small', overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const common = {
    architectures: ['DeepseekV32ForCausalLM'],
    model_type: 'deepseek_v32',
    first_k_dense_replace: 1,
    moe_layer_freq: 1,
    n_shared_experts: 1,
    scoring_func: 'sigmoid',
    topk_method: 'noaux_tc',
    norm_topk_prob: true,
    routed_scaling_factor: 2.5,
    kv_lora_rank: 128,
    index_head_dim: 128,
    num_nextn_predict_layers: 1,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    attention_bias: false,
    bos_token_id: 0,
    eos_token_id: 1,
    torch_dtype: 'float32',
  };
  const sizes = name === 'tiny'
    ? {
      vocab_size: 64, hidden_size: 32, intermediate_size: 64, moe_intermediate_size: 16, num_hidden_layers: 2,
      num_attention_heads: 2, num_key_value_heads: 2, n_routed_experts: 4, num_experts_per_tok: 2, n_group: 2, topk_group: 1,
      q_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, index_n_heads: 2, index_topk: 4,
      max_position_embeddings: 64,
      rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 16, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
    }
    : {
      vocab_size: 2048, hidden_size: 192, intermediate_size: 512, moe_intermediate_size: 128, num_hidden_layers: 4,
      num_attention_heads: 4, num_key_value_heads: 4, n_routed_experts: 8, num_experts_per_tok: 2, n_group: 4, topk_group: 2,
      q_lora_rank: 96, qk_nope_head_dim: 32, qk_rope_head_dim: 16, v_head_dim: 32, index_n_heads: 4, index_topk: 64,
      max_position_embeddings: 4096,
      rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 1024, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
    };
  return { ...common, ...sizes, ...overrides };
}
