using NnSight.Serialization;
using System.Text;
using NnSight.Models.Loading;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

public sealed class SafetensorsFormatTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Written_tensors_read_back_identically()
    {
        using var floats = arange(12, dtype: ScalarType.Float32).view(3, 4);
        using var halves = floats.to_type(ScalarType.BFloat16);
        using var ids = tensor(new long[] { 7, -1, 50256 });
        var path = _folder.File("roundtrip.safetensors");

        SafetensorsWriter.Write(path, [new("floats", floats), new("halves", halves), new("ids", ids)],
            new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(["floats", "halves", "ids"], file.Tensors.Keys);
        foreach (var (name, expected) in new[] { ("floats", floats), ("halves", halves), ("ids", ids) })
        {
            using var actual = file.Read(name);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.True(expected.eq(actual).all().item<bool>(), name);
        }
    }

    [Fact]
    public void A_file_shorter_than_the_header_length_is_refused()
    {
        var error = Open([1, 2, 3]);

        Assert.Contains("the file has 3 bytes; a safetensors file starts with an 8-byte header length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_length_past_the_end_of_the_file_is_refused()
    {
        var error = Open([.. BitConverter.GetBytes(1000UL), .. "{}"u8]);

        Assert.Contains("the header length is 1000 bytes, but the file has 2 bytes after the length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_header_length_is_refused_before_allocating()
    {
        var error = Open([.. BitConverter.GetBytes(ulong.MaxValue), .. "{}"u8]);

        Assert.Contains($"the header length is {ulong.MaxValue} bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_that_is_not_json_is_refused()
    {
        var error = Open(File("{\"a\": {\"dtype\": \"F32\",", []));

        Assert.Contains("the header is not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_that_is_not_an_object_is_refused()
    {
        var error = Open(File("[1, 2]", []));

        Assert.Contains("the header is a JSON Array, not an object", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_dtype_is_refused_naming_the_tensor()
    {
        var error = Open(File("""{"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}""", new byte[2]));

        Assert.Contains("tensor \"w\": unknown dtype \"F8_E4M3\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Offsets_outside_the_data_are_refused()
    {
        var error = Open(File("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}""", new byte[16]));

        Assert.Contains("tensor \"w\": data_offsets [8, 24] reach past the end of the data section (16 bytes)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlapping_tensors_are_refused_naming_both()
    {
        var error = Open(File("""{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}""", new byte[16]));

        Assert.Contains("tensors \"a\" [0, 16] and \"b\" [8, 16] overlap", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_byte_count_that_does_not_match_dtype_and_shape_is_refused()
    {
        var error = Open(File("""{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}}""", new byte[16]));

        Assert.Contains("tensor \"w\": data_offsets [0, 16] hold 16 bytes, but F32 [2, 3] needs 24", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_dimension_is_refused()
    {
        var error = Open(File("""{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}""", []));

        Assert.Contains("tensor \"w\": shape must hold non-negative integers, found -1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_file_is_refused_before_any_tensor_is_read()
    {
        using var weights = ones(64);
        var path = _folder.File("full.safetensors");
        SafetensorsWriter.Write(path, [new("w", weights)]);
        var bytes = System.IO.File.ReadAllBytes(path);

        var error = Open(bytes[..^10]);

        Assert.Contains("tensor \"w\": data_offsets [0, 256] reach past the end of the data section (246 bytes)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_weights_file_fails_the_model_load()
    {
        var folder = Path.Combine(_folder.FullPath, "model");
        Directory.CreateDirectory(folder);
        System.IO.File.Copy(Path.Combine(RepositoryPaths.TinyGpt2, "config.json"), Path.Combine(folder, "config.json"));
        var weights = System.IO.File.ReadAllBytes(Path.Combine(RepositoryPaths.TinyGpt2, SafetensorsCheckpoint.SingleFileName));
        System.IO.File.WriteAllBytes(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), weights[..(weights.Length / 2)]);

        Assert.Throws<SafetensorsFormatException>(() => LanguageModel.FromPretrained(folder));
    }

    [Fact]
    public void An_index_naming_a_shard_that_lacks_the_tensor_is_refused()
    {
        using var weights = ones(2);
        SafetensorsWriter.Write(_folder.File("model-00001-of-00001.safetensors"), [new("a", weights)]);
        System.IO.File.WriteAllText(_folder.File(SafetensorsCheckpoint.IndexFileName),
            """{"weight_map": {"a": "model-00001-of-00001.safetensors", "b": "model-00001-of-00001.safetensors"}}""");

        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(_folder.FullPath));

        Assert.Contains("the index places tensor \"b\" in model-00001-of-00001.safetensors, which does not hold it", error.Message, StringComparison.Ordinal);
    }

    private static byte[] File(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. data];
    }

    private SafetensorsFormatException Open(byte[] bytes)
    {
        var path = _folder.File($"{Guid.NewGuid():N}.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.StartsWith(path, error.Message, StringComparison.Ordinal);
        return error;
    }
}
