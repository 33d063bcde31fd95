using System.Text.Json;

namespace NnSight.Models.Tokenization;

/// <summary>
/// Reads a <c>tokenizer.json</c> whose model is BPE over characters (no <c>ByteLevel</c> step) into a
/// <see cref="MetaspaceBpeTokenizer"/>: the SentencePiece-style files of Llama 2, Mistral and TinyLlama, with either
/// the normalizer <c>Sequence[Prepend("▁"), Replace(" ", "▁")]</c> or the pre-tokenizer <c>Metaspace</c>.
/// </summary>
internal static class MetaspaceBpeReader
{
    private static readonly string[] PreTokenizerTypes = ["Metaspace", "Sequence"];
    private static readonly string[] PostProcessorTypes = ["TemplateProcessing", "ByteLevel", "Sequence"];

    /// <summary>
    /// The first part of the file this reader cannot honour, as the error to raise, or null when it can read the file.
    /// Kinds are checked here, so that a folder with a <c>tokenizer.model</c> can fall back on it; malformed values are
    /// reported while reading.
    /// </summary>
    public static ConfigException? FindUnsupported(string path, JsonElement root)
    {
        var model = TokenizerJsonParts.Property(root, "model");
        if (TokenizerJsonParts.Type(model) is var type && type != "BPE")
        {
            return TokenizerJsonParts.Unsupported(path, "model", type, ["BPE"]);
        }
        if (TokenizerJsonParts.Property(model, "dropout") is { ValueKind: JsonValueKind.Number } dropout && dropout.GetDouble() != 0)
        {
            return new ConfigException($"{path}: model.dropout = {dropout.GetRawText()} is not supported (it makes encoding random; supported: null, 0).",
                "model.dropout", dropout.GetRawText());
        }
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (TokenizerJsonParts.Property(model, affix) is { ValueKind: JsonValueKind.String } value && value.GetString()!.Length > 0)
            {
                return new ConfigException($"{path}: model.{affix} \"{value.GetString()}\" is not supported (supported: null or empty).",
                    $"model.{affix}", value.GetString());
            }
        }
        return UnsupportedStep(path, TokenizerJsonParts.Property(root, "normalizer"), "normalizer", "normalizers", TextNormalizer.Types)
            ?? UnsupportedStep(path, TokenizerJsonParts.Property(root, "pre_tokenizer"), "pre_tokenizer", "pretokenizers", PreTokenizerTypes)
            ?? UnsupportedStep(path, TokenizerJsonParts.Property(root, "post_processor"), "post_processor", "processors", PostProcessorTypes)
            ?? UnsupportedStep(path, TokenizerJsonParts.Property(root, "decoder"), "decoder", "decoders", TokenDecoder.Types);
    }

    /// <summary>Reads the file; <see cref="FindUnsupported"/> must have found nothing.</summary>
    /// <exception cref="ConfigException">A field is missing or malformed; the message names the file and the field.</exception>
    public static MetaspaceBpeTokenizer Read(string path, JsonElement root, TokenizerSettings settings)
    {
        var modelElement = TokenizerJsonParts.Property(root, "model");
        var vocabulary = ReadVocabulary(path, modelElement);
        var options = new BpeModelOptions(
            TokenizerJsonParts.OptionalString(path, modelElement, "model", "unk_token"),
            TokenizerJsonParts.Boolean(path, modelElement, "model", "fuse_unk", fallback: false),
            TokenizerJsonParts.Boolean(path, modelElement, "model", "byte_fallback", fallback: false),
            TokenizerJsonParts.Boolean(path, modelElement, "model", "ignore_merges", fallback: false));
        var model = new BpeModel(path, vocabulary, ReadMerges(path, modelElement), options);
        var normalizer = TextNormalizer.Read(path, TokenizerJsonParts.Property(root, "normalizer"), "normalizer");
        var added = new AddedVocabulary(ReadAddedTokens(path, root), normalizer);
        var (prefix, suffix) = SpecialTokens(path, root, settings, added, model);
        return new MetaspaceBpeTokenizer(model, added, normalizer, ReadPreTokenizer(path, TokenizerJsonParts.Property(root, "pre_tokenizer")),
            TokenDecoder.Read(path, TokenizerJsonParts.Property(root, "decoder"), "decoder"), prefix, suffix);
    }

    private static ConfigException? UnsupportedStep(string path, JsonElement element, string field, string listName, string[] types)
    {
        if (TokenizerJsonParts.IsAbsent(element))
        {
            return null;
        }
        foreach (var (step, stepField) in TokenizerJsonParts.Steps(element, field, listName))
        {
            var type = TokenizerJsonParts.Type(step);
            if (!types.Contains(type))
            {
                return TokenizerJsonParts.Unsupported(path, stepField, type, types);
            }
            if (type == "Sequence" && UnsupportedStep(path, step, stepField, listName, types) is { } inner)
            {
                return inner;
            }
        }
        return null;
    }

    private static Dictionary<string, int> ReadVocabulary(string path, JsonElement model)
    {
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
        {
            throw TokenizerJsonParts.Malformed(path, "model.vocab", "an object of token to id");
        }
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            vocabulary[entry.Name] = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out var id) && id >= 0
                ? id
                : throw TokenizerJsonParts.Malformed(path, $"model.vocab[\"{entry.Name}\"]", "a non-negative integer id");
        }
        return vocabulary;
    }

    /// <summary>Merges as <c>"a b"</c> strings (lines starting with <c>#version</c> skipped, as in
    /// <c>merges.txt</c>) or as <c>["a", "b"]</c> pairs, in rank order.</summary>
    private static List<(string, string)> ReadMerges(string path, JsonElement model)
    {
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array)
        {
            throw TokenizerJsonParts.Malformed(path, "model.merges", "a list of merges");
        }
        var result = new List<(string, string)>(merges.GetArrayLength());
        var index = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            var field = $"model.merges[{index++}]";
            if (merge.ValueKind == JsonValueKind.String)
            {
                var line = merge.GetString()!;
                if (line.StartsWith("#version", StringComparison.Ordinal))
                {
                    continue;
                }
                var parts = line.Split(' ');
                result.Add(parts.Length == 2 ? (parts[0], parts[1]) : throw TokenizerJsonParts.Malformed(path, field, "two tokens separated by one space"));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                result.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            else
            {
                throw TokenizerJsonParts.Malformed(path, field, "\"a b\" or [\"a\", \"b\"]");
            }
        }
        return result;
    }

    private static List<AddedToken> ReadAddedTokens(string path, JsonElement root)
    {
        var tokens = new List<AddedToken>();
        if (TokenizerJsonParts.Property(root, "added_tokens") is not { ValueKind: JsonValueKind.Array } list)
        {
            return tokens;
        }
        var index = 0;
        foreach (var token in list.EnumerateArray())
        {
            var field = $"added_tokens[{index++}]";
            if (token.ValueKind != JsonValueKind.Object)
            {
                throw TokenizerJsonParts.Malformed(path, field, "an object");
            }
            if (!token.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out var value))
            {
                throw TokenizerJsonParts.Malformed(path, $"{field}.id", "an integer id");
            }
            tokens.Add(new AddedToken(value, TokenizerJsonParts.String(path, token, field, "content"),
                TokenizerJsonParts.Boolean(path, token, field, "special", fallback: false),
                TokenizerJsonParts.Boolean(path, token, field, "normalized", fallback: true),
                TokenizerJsonParts.Boolean(path, token, field, "single_word", fallback: false),
                TokenizerJsonParts.Boolean(path, token, field, "lstrip", fallback: false),
                TokenizerJsonParts.Boolean(path, token, field, "rstrip", fallback: false)));
        }
        return tokens;
    }

    /// <summary>The <c>Metaspace</c> pre-tokenizer, alone or as the one step of a <c>Sequence</c>, or null.</summary>
    private static Metaspace? ReadPreTokenizer(string path, JsonElement element)
    {
        if (TokenizerJsonParts.IsAbsent(element))
        {
            return null;
        }
        var steps = TokenizerJsonParts.Steps(element, "pre_tokenizer", "pretokenizers").ToList();
        return steps.Count switch
        {
            0 => null,
            1 when TokenizerJsonParts.Type(steps[0].Step) == "Metaspace" => Metaspace.Read(path, steps[0].Step, steps[0].Field),
            _ => throw new ConfigException($"{path}: pre_tokenizer must be one Metaspace step (this one has {steps.Count} steps).", "pre_tokenizer"),
        };
    }

    /// <summary>
    /// The ids put before and after every text. <c>tokenizer_config.json</c>'s <c>add_bos_token</c> and
    /// <c>add_eos_token</c> decide each side when they are given (with its <c>bos_token</c> / <c>eos_token</c>, else the
    /// template's token, else <c>&lt;s&gt;</c> / <c>&lt;/s&gt;</c>); otherwise the post-processor's template for one
    /// sequence does.
    /// </summary>
    private static (int[] Prefix, int[] Suffix) SpecialTokens(string path, JsonElement root, TokenizerSettings settings, AddedVocabulary added, BpeModel model)
    {
        var template = ReadTemplate(path, TokenizerJsonParts.Property(root, "post_processor"), added, model);
        int[] prefix = settings.AddBeginningOfSentence switch
        {
            null => [.. template.Before.SelectMany(token => token.Ids)],
            false => [],
            true => [IdOf(settings.BeginningOfSentenceToken ?? template.Before.FirstOrDefault().Name ?? "<s>", "bos_token")],
        };
        int[] suffix = settings.AddEndOfSentence switch
        {
            null => [.. template.After.SelectMany(token => token.Ids)],
            false => [],
            true => [IdOf(settings.EndOfSentenceToken ?? template.After.LastOrDefault().Name ?? "</s>", "eos_token")],
        };
        return (prefix, suffix);

        int IdOf(string token, string key) =>
            added.IdOf(token) ?? (model.Vocabulary.TryGetValue(token, out var id) ? id
                : throw new ConfigException($"{TokenizerFiles.TokenizerConfig}: {key} \"{token}\" is neither an added token nor in model.vocab of {path}.", key, token));
    }

    /// <summary>The special tokens a <c>TemplateProcessing</c> post-processor puts before and after a single sequence
    /// (<c>single</c>), with their ids from <c>special_tokens</c> (or the vocabulary).</summary>
    private static (List<(string Name, int[] Ids)> Before, List<(string Name, int[] Ids)> After) ReadTemplate(string path, JsonElement processor,
        AddedVocabulary added, BpeModel model)
    {
        var before = new List<(string, int[])>();
        var after = new List<(string, int[])>();
        var (template, field) = TokenizerJsonParts.Steps(processor, "post_processor", "processors")
            .FirstOrDefault(step => TokenizerJsonParts.Type(step.Step) == "TemplateProcessing");
        if (template.ValueKind != JsonValueKind.Object)
        {
            return (before, after);
        }
        if (!template.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array)
        {
            throw TokenizerJsonParts.Malformed(path, $"{field}.single", "a list of pieces");
        }
        var specialTokens = TokenizerJsonParts.Property(template, "special_tokens");
        var seenSequence = false;
        var index = 0;
        foreach (var piece in single.EnumerateArray())
        {
            var pieceField = $"{field}.single[{index++}]";
            if (piece.ValueKind == JsonValueKind.Object && piece.TryGetProperty("Sequence", out _))
            {
                seenSequence = true;
            }
            else if (piece.ValueKind == JsonValueKind.Object && piece.TryGetProperty("SpecialToken", out var special))
            {
                var name = TokenizerJsonParts.String(path, special, $"{pieceField}.SpecialToken", "id");
                (seenSequence ? after : before).Add((name, SpecialIds(name, pieceField)));
            }
            else
            {
                throw TokenizerJsonParts.Malformed(path, pieceField, "{\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }
        }
        return (before, after);

        int[] SpecialIds(string name, string pieceField)
        {
            if (TokenizerJsonParts.Property(specialTokens, name) is { ValueKind: JsonValueKind.Object } entry
                && entry.TryGetProperty("ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
            {
                return [.. ids.EnumerateArray().Select(id => id.ValueKind == JsonValueKind.Number && id.TryGetInt32(out var value)
                    ? value
                    : throw TokenizerJsonParts.Malformed(path, $"{field}.special_tokens[\"{name}\"].ids", "a list of integer ids"))];
            }
            return added.IdOf(name) is { } addedId ? [addedId]
                : model.Vocabulary.TryGetValue(name, out var id) ? [id]
                : throw new ConfigException($"{path}: {pieceField} names \"{name}\", which is neither in {field}.special_tokens nor a token.",
                    pieceField, name);
        }
    }
}
