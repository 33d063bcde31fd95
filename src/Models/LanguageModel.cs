using NnSight.Models.Configuration;
using NnSight.Models.Generation;
using NnSight.Models.Hub;
using NnSight.Models.Loading;
using NnSight.Models.Modules;
using NnSight.Models.Progress;
using NnSight.Models.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Models;

/// <summary>
/// A causal language model loaded from a HuggingFace folder: its TorchSharp module tree, tokenizer and generation
/// defaults. Prompts are batched with left padding, and position ids follow the attention mask in every forward, so a
/// padded prompt gives the same hidden states at its real positions as the prompt alone.
/// </summary>
public class LanguageModel : NnSightModel, IDisposable
{
    /// <summary>Wraps an already built root module (for example a randomly initialised one).</summary>
    /// <param name="module">The root module; the language model takes ownership of it.</param>
    /// <param name="tokenizer">The tokenizer, or null for a model that takes token ids only.</param>
    /// <param name="generation">The eos and padding ids; null reads them from the module's config.</param>
    public LanguageModel(CausalLanguageModel module, ModelTokenizer? tokenizer = null, GenerationConfig? generation = null)
        : base(module)
    {
        Module = module;
        Tokenizer = tokenizer;
        Generation = generation ?? new GenerationConfig(module.Config.EosTokenId ?? [],
            module.Config.PadTokenId ?? module.Config.EosTokenId?.FirstOrDefault());
        var firstParameter = module.parameters().First();
        Device = firstParameter.device;
        Dtype = firstParameter.dtype;
    }

    /// <summary>Copies the parts of <paramref name="other"/>, for classes that derive from a loaded model.</summary>
    protected LanguageModel(LanguageModel other)
        : base((other ?? throw new ArgumentNullException(nameof(other))).Module)
    {
        Module = other.Module;
        Tokenizer = other.Tokenizer;
        Generation = other.Generation;
        RemoteId = other.RemoteId;
        Device = other.Device;
        Dtype = other.Dtype;
    }

    /// <summary>The root TorchSharp module, with HuggingFace's module names (<c>transformer.h.0.attn</c>, ...).</summary>
    public CausalLanguageModel Module { get; }

    /// <summary>The configuration read from config.json.</summary>
    public PretrainedConfig Config => Module.Config;

    /// <summary>The tokenizer, or null when the folder has none (the model then takes token ids only).</summary>
    public ModelTokenizer? Tokenizer { get; }

    /// <summary>The eos and padding ids generation uses.</summary>
    public GenerationConfig Generation { get; }

    /// <summary>The device the parameters live on.</summary>
    public Device Device { get; }

    /// <summary>The parameters' element type.</summary>
    public ScalarType Dtype { get; }

    /// <summary>Loads the model in <paramref name="model"/> (config.json, generation_config.json, safetensors weights).</summary>
    /// <param name="model">A HuggingFace model folder, or a hub repository id (<c>openai-community/gpt2</c>) found in
    /// the HuggingFace cache or downloaded into it. An existing folder is always taken as a folder.</param>
    /// <param name="device">Where the parameters go: <c>"cpu"</c>, <c>"cuda"</c>, <c>"cuda:1"</c>.</param>
    /// <param name="dtype">The parameters' element type; null keeps the checkpoint's.</param>
    /// <param name="revision">The hub revision (branch, tag or commit) of a hub id; null is <c>main</c>.</param>
    /// <param name="showProgress">Whether a load or download that lasts over a second shows a progress bar on standard
    /// error (never when it is redirected, or when <c>HF_HUB_DISABLE_PROGRESS_BARS</c> is set).</param>
    /// <exception cref="ConfigException">The folder does not exist (and is no hub id), or config.json or a tokenizer
    /// file is missing, malformed or unsupported.</exception>
    /// <exception cref="HubException">A hub id cannot be had: unknown or gated repository, no safetensors weights, no
    /// network and not in the cache, offline mode and not in the cache, a corrupt download, a full disk.</exception>
    /// <exception cref="CheckpointException">There are no safetensors weights, or they do not fit the architecture.</exception>
    /// <exception cref="SafetensorsFormatException">A weights file is malformed.</exception>
    /// <exception cref="LibTorchNotFoundException">The application has no libtorch backend package.</exception>
    public static LanguageModel FromPretrained(string model, string device = "cpu", ScalarType? dtype = null, string? revision = null, bool showProgress = true)
    {
        TorchBackend.Require();
        return Load(model, ParseDevice(device), dtype, revision, showProgress, checkConfig: null, HubSettings.FromEnvironment());
    }

    /// <summary>Loads the model in <paramref name="model"/> onto <paramref name="device"/>.</summary>
    /// <inheritdoc cref="FromPretrained(string, string, ScalarType?, string?, bool)"/>
    public static LanguageModel FromPretrained(string model, Device device, ScalarType? dtype = null, string? revision = null, bool showProgress = true) =>
        Load(model, device, dtype, revision, showProgress, checkConfig: null, HubSettings.FromEnvironment());

    /// <summary>Loads the model in <paramref name="model"/> once <paramref name="checkConfig"/> accepted its folder: the
    /// check is called with the folder as soon as config.json is in it, before any weights are downloaded, and throws to
    /// refuse the model. Typed model classes load through it.</summary>
    /// <inheritdoc cref="FromPretrained(string, string, ScalarType?, string?, bool)"/>
    protected static LanguageModel FromPretrained(string model, string device, ScalarType? dtype, string? revision, bool showProgress, Action<string> checkConfig)
    {
        ArgumentNullException.ThrowIfNull(checkConfig);
        TorchBackend.Require();
        return Load(model, ParseDevice(device), dtype, revision, showProgress, checkConfig, HubSettings.FromEnvironment());
    }

    /// <inheritdoc cref="FromPretrained(string, string, ScalarType?, string?, bool, Action{string})"/>
    protected static LanguageModel FromPretrained(string model, Device device, ScalarType? dtype, string? revision, bool showProgress, Action<string> checkConfig)
    {
        ArgumentNullException.ThrowIfNull(checkConfig);
        return Load(model, device, dtype, revision, showProgress, checkConfig, HubSettings.FromEnvironment());
    }

    /// <summary>Resolves <paramref name="model"/> (a folder, or a hub id through <paramref name="settings"/>) and loads it.</summary>
    internal static LanguageModel Load(string model, Device device, ScalarType? dtype, string? revision, bool showProgress,
        Action<string>? checkConfig, HubSettings settings)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        PretrainedConfig? checkedConfig = null;
        var resolved = HubResolver.Resolve(model, revision, settings, showProgress, folder =>
        {
            checkConfig?.Invoke(folder);
            checkedConfig = ConfigReader.Read(Path.Combine(folder, HubResolver.ConfigFile));
        });
        var folder = resolved.Folder;
        var name = resolved.RepoId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        var config = checkedConfig ?? ConfigReader.Read(Path.Combine(folder, HubResolver.ConfigFile));
        var generation = GenerationConfig.Read(folder, config);
        var tokenizer = ModelTokenizer.FromPretrained(folder, config, generation.EosTokenIds.FirstOrDefault(), generation.PadTokenId);
        using var checkpoint = SafetensorsCheckpoint.Open(folder);
        var architecture = ModelArchitectures.Find(config.ModelType)!;
        var parameterDtype = dtype ?? StoredDtype(checkpoint);
        // Built on the meta device: no storage and no random initialisation; the checkpoint's tensors become the parameters.
        var module = architecture.Create(config, MetaParameters.Meta, parameterDtype);
        try
        {
            using var progress = TransferProgress.Start($"Loading {name}", 0, showProgress);
            CheckpointLoader.Load(module, checkpoint, device, parameterDtype, progress);
        }
        catch
        {
            module.Dispose();
            throw;
        }
        return new LanguageModel(module, tokenizer, generation) { RemoteId = name };
    }

    /// <summary>The tokenizer, or an exception explaining that this model takes token ids only.</summary>
    public ModelTokenizer RequireTokenizer() =>
        Tokenizer ?? throw new ConfigException(
            $"This {Config.ModelType} model has no tokenizer (its folder has no tokenizer.json, tokenizer.model or vocab.json + merges.txt): pass token ids instead of text.");

    /// <summary>Tokenizes <paramref name="prompts"/> into one left-padded batch on the model's device.</summary>
    public TokenBatch Tokenize(IReadOnlyList<string> prompts)
    {
        var tokenizer = RequireTokenizer();
        return Batch([.. prompts.Select(prompt => (IReadOnlyList<long>)[.. tokenizer.Encode(prompt).Select(id => (long)id)])]);
    }

    /// <summary>Left-pads rows of token ids into one batch on the model's device.</summary>
    public TokenBatch Batch(IReadOnlyList<IReadOnlyList<long>> rows) =>
        TokenBatch.LeftPadded(rows, Generation.PadTokenId ?? 0, Device);

    /// <summary>Runs one forward pass over <paramref name="batch"/>, logits for every position.</summary>
    /// <returns>The logits <c>[rows, positions, vocab]</c> and the key/value cache, owned by the caller.</returns>
    public CausalLMOutput Forward(TokenBatch batch)
    {
        using var noGrad = no_grad();
        return ForwardInCurrentGradMode(batch);
    }

    /// <summary>Generates a continuation of each prompt (see <see cref="GenerateIds(TokenBatch, GenerationOptions?)"/>).</summary>
    public GenerationResult GenerateIds(IReadOnlyList<string> prompts, GenerationOptions? options = null)
    {
        using var batch = Tokenize(prompts);
        return GenerateIds(batch, options);
    }

    /// <summary>
    /// Generates up to <see cref="GenerationOptions.MaxNewTokens"/> tokens per row with the key/value cache: greedy
    /// unless sampling is asked for; a row that produces the eos token is finished and filled with the pad token; the
    /// loop ends when every row is finished.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The prompt and new tokens need more positions than the model has.</exception>
    public GenerationResult GenerateIds(TokenBatch batch, GenerationOptions? options = null)
    {
        using var noGrad = no_grad();
        return Generate(batch, options ?? new GenerationOptions(), logitsToKeep: 1, CancellationToken.None);
    }

    /// <inheritdoc />
    public override IShapeRules ShapeRules => Module.ShapeRules;

    /// <inheritdoc />
    protected internal override IReadOnlyList<TokenRow> PrepareInput(InvocationInput input)
    {
        IReadOnlyList<TokenRow> rows = input switch
        {
            InvocationInput.Text text => [.. text.Prompts.Select(prompt => new TokenRow([.. RequireTokenizer().Encode(prompt).Select(id => (long)id)]))],
            InvocationInput.Ids ids => ids.Rows,
            _ => throw new ArgumentException($"Unknown invocation input {input.GetType().Name}.", nameof(input)),
        };
        foreach (var id in rows.SelectMany(row => row.Ids).Where(id => id < 0 || id >= Config.VocabSize))
        {
            throw new ArgumentOutOfRangeException(nameof(input), $"Token id {id} is outside the vocabulary (vocab_size = {Config.VocabSize}).");
        }
        return rows;
    }

    /// <inheritdoc />
    protected internal override TokenBatch CreateBatch(IReadOnlyList<TokenRow> rows) =>
        TokenBatch.LeftPadded(rows, Generation.PadTokenId ?? 0, Device);

    /// <inheritdoc />
    protected internal override Tensor RunForward(TokenBatch batch, ForwardRequest request)
    {
        using var attention = Module.ObserveAttention(request.AccessedModules);
        using var output = ForwardInCurrentGradMode(batch);
        return output.Logits.alias();
    }

    /// <inheritdoc />
    protected internal override Tensor RunGeneration(TokenBatch batch, GenerationOptions options, ForwardRequest request)
    {
        using var attention = Module.ObserveAttention(request.AccessedModules);
        using var result = Generate(batch, options, LogitsToKeep(request), request.Cancellation);
        return result.Sequences.alias();
    }

    /// <summary>Disposes the module and its parameters (an edited view leaves them to the model it shares them with) and the edits.</summary>
    public void Dispose()
    {
        ClearEdits();
        if (!IsView)
        {
            Module.Dispose();
        }
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    protected override NnSightModel CreateView() => new LanguageModel(this);

    /// <summary>The architectures of NnSight.Models never write in place into a value a module returned or received.</summary>
    protected internal override bool WritesModuleValuesInPlace => false;

    /// <summary>A forward pass that records autograd history when the caller enables it (a trace that calls Backward()).</summary>
    private CausalLMOutput ForwardInCurrentGradMode(TokenBatch batch)
    {
        using var positions = TokenBatch.PositionIds(batch.AttentionMask);
        return Module.call(batch.InputIds, null, batch.AttentionMask, positions, 0);
    }

    private GenerationResult Generate(TokenBatch batch, GenerationOptions options, int logitsToKeep, CancellationToken cancellation)
    {
        options.Validate();
        CheckPositions(batch, options.MaxNewTokens);
        using var progress = CountProgress.Start("Generating", (long)options.MaxNewTokens * batch.Rows, "tokens");
        return new GenerationLoop(Module, options, Generation, logitsToKeep).Run(batch, progress, cancellation);
    }

    /// <summary>Generation needs logits for the last position only, unless the graph observes the head or the model output.</summary>
    private int LogitsToKeep(ForwardRequest request) =>
        request.AccessedModules.Any(path => path.Length == 0 || path == Module.HeadPath || path.StartsWith(Module.HeadPath + ".", StringComparison.Ordinal)) ? 0 : 1;

    private void CheckPositions(TokenBatch batch, int maxNewTokens)
    {
        if (Config.MaxPositions is not { } limit)
        {
            return;
        }
        var longest = batch.RealLengths().Max();
        if (longest + maxNewTokens > limit)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNewTokens),
                $"The longest prompt has {longest} tokens and {maxNewTokens} new tokens are asked for: {longest + maxNewTokens} positions, " +
                $"past this model's {limit} (config.json {Config.MaxPositionsKey}).");
        }
    }

    private static Device ParseDevice(string device)
    {
        if (device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) && !cuda.is_available())
        {
            throw new ArgumentException(
                $"Device \"{device}\" was asked for, but TorchSharp's CUDA backend is not available: reference a CUDA libtorch " +
                "package (for example libtorch-cuda-12.8-linux-x64) instead of libtorch-cpu-linux-x64, on a machine with a GPU.",
                nameof(device));
        }
        return torch.device(device);
    }

    private static ScalarType StoredDtype(SafetensorsCheckpoint checkpoint) =>
        checkpoint.Tensors.Values.Select(entry => entry.ScalarType)
            .FirstOrDefault(type => type is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64,
                ScalarType.Float32);
}
