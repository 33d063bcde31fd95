using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace NnSight.Models.Tokenization;

/// <summary>
/// Reads the tokenizer files of a HuggingFace or Meta model folder into Microsoft.ML.Tokenizers, in HuggingFace's
/// order of preference: <c>tokenizer.json</c> (byte-level BPE: GPT-2, Llama 3, Qwen2; or SentencePiece-style BPE with
/// byte fallback: Llama 2, Mistral, TinyLlama), <c>tokenizer.model</c> (SentencePiece for Llama 2 and Mistral, or
/// tiktoken ranks for Llama 3), then <c>vocab.json</c> + <c>merges.txt</c>. A <c>tokenizer.json</c> of a kind that
/// cannot be read gives way to a <c>tokenizer.model</c> beside it.
/// </summary>
internal static partial class TokenizerFiles
{
    public const string TokenizerJson = "tokenizer.json";
    public const string TokenizerModel = "tokenizer.model";
    public const string TokenizerConfig = "tokenizer_config.json";

    /// <summary>Llama 3's named special tokens, in id order from the end of the ranks; reserved ones fill the rest.</summary>
    private static readonly string[] Llama3NamedSpecialTokens =
    [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|reserved_special_token_2|>", "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|reserved_special_token_4|>", "<|eot_id|>",
    ];

    private const int Llama3SpecialTokenCount = 256;

    /// <summary>The backend and the id to put first when the backend does not add one itself; null when the folder
    /// has no tokenizer file.</summary>
    /// <exception cref="ConfigException">A tokenizer file is present but malformed or of an unsupported kind; the
    /// message names the file and the field.</exception>
    public static (Tokenizer Backend, int? PrependedId)? Load(string folder)
    {
        var json = Path.Combine(folder, TokenizerJson);
        var model = Path.Combine(folder, TokenizerModel);
        var settings = TokenizerSettings.Read(Path.Combine(folder, TokenizerConfig));
        if (File.Exists(json))
        {
            using var document = ParseJson(json);
            var root = document.RootElement;
            if (IsByteLevelBpe(root))
            {
                try
                {
                    return FromTokenizerJson(json, root);
                }
                catch (Exception error) when (error is KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    throw new ConfigException($"{json}: the BPE model is incomplete or of the wrong type ({error.Message}).", innerException: error);
                }
            }
            var unsupported = MetaspaceBpeReader.FindUnsupported(json, root);
            if (unsupported is null)
            {
                try
                {
                    return (MetaspaceBpeReader.Read(json, root, settings), null);
                }
                catch (InvalidOperationException error)
                {
                    throw new ConfigException($"{json} is malformed: {error.Message}", innerException: error);
                }
            }
            if (!File.Exists(model))
            {
                throw new ConfigException($"{unsupported.Message} The folder has no {TokenizerModel} to fall back on.", unsupported.Key, unsupported.Value);
            }
        }
        if (File.Exists(model))
        {
            var contents = File.ReadAllBytes(model);
            return IsTiktokenRanks(contents) ? FromTiktokenRanks(contents, settings) : FromSentencePiece(model, contents, settings);
        }
        return null;
    }

    /// <summary>GPT-2's pre-tokenizer pattern (HuggingFace's ByteLevel pre-tokenizer with <c>use_regex</c>).</summary>
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    public static partial Regex Gpt2Pattern();

    /// <summary>Llama 3's pre-tokenizer pattern: numbers in groups of up to three digits.</summary>
    [GeneratedRegex(@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")]
    private static partial Regex Llama3Pattern();

    private static bool IsByteLevelBpe(JsonElement root) =>
        root.TryGetProperty("model", out var model) && model.TryGetProperty("type", out var type) && type.GetString() == "BPE"
            && root.TryGetProperty("pre_tokenizer", out var preTokenizer) && TokenizerJsonParts.Steps(preTokenizer, "pretokenizers").Any(step => TokenizerJsonParts.Type(step) == "ByteLevel");

    private static (Tokenizer, int?) FromTokenizerJson(string path, JsonElement root)
    {
        var model = root.GetProperty("model");
        var vocabulary = model.GetProperty("vocab").EnumerateObject().Select(entry => new KeyValuePair<string, int>(entry.Name, entry.Value.GetInt32())).ToList();
        var merges = model.GetProperty("merges").EnumerateArray().Select(merge => merge.ValueKind == JsonValueKind.Array
            ? string.Join(' ', merge.EnumerateArray().Select(part => part.GetString()))
            : merge.GetString()!).ToList();
        var addedTokens = root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array
            ? added.EnumerateArray().ToDictionary(token => token.GetProperty("content").GetString()!, token => token.GetProperty("id").GetInt32())
            : [];
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = addedTokens,
            PreTokenizer = new RegexPreTokenizer(PreTokenizerPattern(path, root.GetProperty("pre_tokenizer")), addedTokens),
            Normalizer = CreateNormalizer(path, root.TryGetProperty("normalizer", out var normalizer) ? normalizer : default),
            BeginningOfSentenceToken = TemplateBeginningToken(root),
        };
        return (BpeTokenizer.Create(options), null);
    }

    /// <summary>The regex of a <c>Split</c> step, or GPT-2's when the ByteLevel step splits by itself.</summary>
    private static Regex PreTokenizerPattern(string path, JsonElement preTokenizer)
    {
        foreach (var step in TokenizerJsonParts.Steps(preTokenizer, "pretokenizers"))
        {
            if (TokenizerJsonParts.Type(step) == "Split" && step.TryGetProperty("pattern", out var pattern) && pattern.TryGetProperty("Regex", out var regex))
            {
                return new Regex(regex.GetString()!, RegexOptions.Compiled);
            }
            if (TokenizerJsonParts.Type(step) == "ByteLevel")
            {
                if (step.TryGetProperty("add_prefix_space", out var prefix) && prefix.GetBoolean())
                {
                    throw new ConfigException($"{path}: pre_tokenizer ByteLevel with add_prefix_space = true is not supported.");
                }
                if (!step.TryGetProperty("use_regex", out var useRegex) || useRegex.GetBoolean())
                {
                    return Gpt2Pattern();
                }
            }
        }
        throw new ConfigException($"{path}: pre_tokenizer has neither a Split regex nor a ByteLevel step that splits; it cannot be read.");
    }

    private static Normalizer? CreateNormalizer(string path, JsonElement normalizer) =>
        normalizer.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null : TokenizerJsonParts.Type(normalizer) switch
        {
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            var other => throw new ConfigException($"{path}: normalizer \"{other}\" is not supported (supported: NFC, NFKC, none)."),
        };

    /// <summary>The special token a <c>TemplateProcessing</c> post-processor puts before a single sequence (Llama 3's
    /// <c>&lt;|begin_of_text|&gt;</c>), or null.</summary>
    private static string? TemplateBeginningToken(JsonElement root)
    {
        if (!root.TryGetProperty("post_processor", out var processor) || processor.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        var template = TokenizerJsonParts.Steps(processor, "processors").FirstOrDefault(step => TokenizerJsonParts.Type(step) == "TemplateProcessing");
        if (template.ValueKind != JsonValueKind.Object || !template.TryGetProperty("single", out var single))
        {
            return null;
        }
        var first = single.EnumerateArray().FirstOrDefault();
        return first.ValueKind == JsonValueKind.Object && first.TryGetProperty("SpecialToken", out var special) ? special.GetProperty("id").GetString() : null;
    }

    /// <summary>A Meta tiktoken file holds <c>base64 rank</c> lines; a SentencePiece model is a binary protobuf.</summary>
    private static bool IsTiktokenRanks(byte[] contents)
    {
        var firstLineEnd = Array.IndexOf(contents, (byte)'\n');
        var firstLine = Encoding.ASCII.GetString(contents, 0, firstLineEnd < 0 ? contents.Length : firstLineEnd).TrimEnd('\r');
        return TiktokenLine().IsMatch(firstLine);
    }

    [GeneratedRegex(@"^[A-Za-z0-9+/]+=*\s\d+$")]
    private static partial Regex TiktokenLine();

    private static (Tokenizer, int?) FromTiktokenRanks(byte[] contents, TokenizerSettings settings)
    {
        var specialTokens = settings.AddedTokens.Count > 0 ? settings.AddedTokens : Llama3SpecialTokens(RankCount(contents));
        using var ranks = new MemoryStream(contents, writable: false);
        var tokenizer = TiktokenTokenizer.Create(ranks, new RegexPreTokenizer(Llama3Pattern(), specialTokens), normalizer: null, specialTokens);
        var beginning = settings.AddBeginningOfSentence ?? true
            ? specialTokens.TryGetValue(settings.BeginningOfSentenceToken ?? "<|begin_of_text|>", out var id) ? id : (int?)null
            : null;
        return (tokenizer, beginning);
    }

    /// <summary>The number of non-empty lines: Llama 3's special tokens take the ids after the last rank.</summary>
    private static int RankCount(byte[] contents) =>
        Encoding.ASCII.GetString(contents).Split('\n').Count(line => line.TrimEnd('\r').Length > 0);

    private static Dictionary<string, int> Llama3SpecialTokens(int rankCount)
    {
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var index = 0; index < Llama3SpecialTokenCount; index++)
        {
            var name = index < Llama3NamedSpecialTokens.Length
                ? Llama3NamedSpecialTokens[index]
                : $"<|reserved_special_token_{index - Llama3NamedSpecialTokens.Length + 5}|>";
            tokens[name] = rankCount + index;
        }
        return tokens;
    }

    private static (Tokenizer, int?) FromSentencePiece(string path, byte[] contents, TokenizerSettings settings)
    {
        using var model = new MemoryStream(contents, writable: false);
        try
        {
            return (LlamaTokenizer.Create(model, settings.AddBeginningOfSentence ?? true, settings.AddEndOfSentence ?? false,
                settings.AddedTokens.Count > 0 ? settings.AddedTokens : null), null);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            throw new ConfigException($"{path} is neither tiktoken ranks nor a SentencePiece model Microsoft.ML.Tokenizers can read: {error.Message}", innerException: error);
        }
    }

    internal static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException error)
        {
            throw new ConfigException($"{path} is not valid JSON (line {error.LineNumber + 1}): {error.Message}", innerException: error);
        }
    }

    /// <summary>A Unicode normalization form as a Microsoft.ML.Tokenizers normalizer (HuggingFace's NFC/NFKC).</summary>
    private sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
    {
        public override string Normalize(string original) => original.Normalize(form);

        public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(form);
    }
}
