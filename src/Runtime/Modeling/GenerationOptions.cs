namespace NnSight;

/// <summary>
/// How generation picks new tokens:
/// greedy by default, or sampling with temperature, top-k and top-p (HuggingFace's order of warpers).
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>How many tokens to add at most (HuggingFace's <c>max_new_tokens</c>).</summary>
    public int MaxNewTokens { get; init; } = 20;

    /// <summary>Sample from the distribution instead of taking the most likely token.</summary>
    public bool DoSample { get; init; }

    /// <summary>Divides the logits before sampling; 1 leaves them unchanged.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keeps the k most likely tokens when sampling; 0 keeps all.</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Keeps the smallest set of tokens whose probability reaches p when sampling; 1 keeps all.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Seeds the sampling generator, for reproducible samples.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Stop a row when it produces this token; null uses the model's generation_config.json.</summary>
    public int? EosTokenId { get; init; }

    /// <summary>The token that fills finished rows; null uses the model's padding (the eos token for GPT-2).</summary>
    public int? PadTokenId { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    internal void Validate()
    {
        if (MaxNewTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "MaxNewTokens must be 0 or more.");
        }
        if (DoSample && !(Temperature > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be positive when sampling.");
        }
        if (TopK < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be 0 (off) or more.");
        }
        if (!(TopP is > 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1].");
        }
    }
}
