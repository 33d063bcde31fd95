namespace NnSight.EndToEnd.Tests;

/// <summary>The bundled tiny GPT-2, typed.</summary>
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class TinyGpt2;

/// <summary>The published GPT-2 small, typed (no weights are bundled).</summary>
[LanguageModel("models/gpt2/config.json")]
public partial class Gpt2;

/// <summary>The bundled tiny Llama, typed.</summary>
[LanguageModel("models/tiny-llama/config.json")]
public partial class TinyLlama;

/// <summary>The tiny Llama as a Mistral (config only), typed; the conformance tests derive its folder.</summary>
[LanguageModel("Configs/tiny-mistral.json")]
public partial class TinyMistral;

/// <summary>The tiny Llama with attention biases as a Qwen2 (no o_proj bias), typed; the conformance tests derive its folder.</summary>
[LanguageModel("Configs/tiny-qwen2.json")]
public partial class TinyQwen2;

/// <summary>A published Phi-2 config: typed, though NnSight.Models does not implement Phi.</summary>
[LanguageModel("tests/NnSight.Generators.Tests/Configs/phi-2.json")]
public partial class Phi2;
