/** Where the stand-in's catalog entry says its weights and model library are (never fetched: the stand-in serves them). */
export const STAND_IN_MODEL_URL = 'https://models.test/tiny-llama-q0f32-MLC';
export const STAND_IN_LIB_URL = 'https://models.test/libs/tiny-llama-q0f32_cs1k-webgpu.wasm';
