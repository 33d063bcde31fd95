using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace NnSight.Generators.Json;

/// <summary>A parsed JSON value.</summary>
internal abstract class JsonValue
{
}

/// <summary>A JSON object; members keep their order.</summary>
internal sealed class JsonObject : JsonValue
{
    public List<KeyValuePair<string, JsonValue>> Members { get; } = new();

    /// <summary>The value of <paramref name="key"/>, or null when absent.</summary>
    public JsonValue? this[string key]
    {
        get
        {
            foreach (var member in Members)
            {
                if (member.Key == key)
                {
                    return member.Value;
                }
            }
            return null;
        }
    }
}

/// <summary>A JSON array.</summary>
internal sealed class JsonArray : JsonValue
{
    public List<JsonValue> Items { get; } = new();
}

/// <summary>A JSON string.</summary>
internal sealed class JsonString(string value) : JsonValue
{
    public string Value { get; } = value;
}

/// <summary>A JSON number, kept as written.</summary>
internal sealed class JsonNumber(string text) : JsonValue
{
    public string Text { get; } = text;

    /// <summary>The number as an integer, when it is one (<c>768</c> or <c>768.0</c>).</summary>
    public bool TryGetInt64(out long value)
    {
        if (long.TryParse(Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }
        if (double.TryParse(Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            && Math.Abs(number) < 9e15 && number == Math.Floor(number))
        {
            value = (long)number;
            return true;
        }
        return false;
    }
}

/// <summary><c>true</c>, <c>false</c> or <c>null</c>.</summary>
internal sealed class JsonLiteral(string text) : JsonValue
{
    public string Text { get; } = text;
}

/// <summary>Malformed JSON, at a 1-based line and column.</summary>
internal sealed class JsonSyntaxException(string message, int line, int column) : Exception(message)
{
    public int Line { get; } = line;

    public int Column { get; } = column;
}

/// <summary>
/// A small JSON reader for config files (RFC 8259 with a UTF-8 byte order mark allowed; CRLF or LF; any final
/// newline). Kept in the generator so it does not depend on System.Text.Json, which an IDE host on .NET Framework may
/// not load.
/// </summary>
internal sealed class JsonReader
{
    private const int MaxDepth = 64;
    private readonly string _text;
    private int _position;
    private int _line = 1;
    private int _lineStart;

    private JsonReader(string text)
    {
        _text = text;
    }

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="JsonSyntaxException">The text is not valid JSON.</exception>
    public static JsonValue Parse(string text)
    {
        var reader = new JsonReader(text);
        if (reader.Peek() == '\uFEFF')
        {
            reader._position++;
        }
        var value = reader.ReadValue(0);
        reader.SkipWhitespace();
        if (reader._position < text.Length)
        {
            throw reader.Error("unexpected text after the end of the value");
        }
        return value;
    }

    private JsonValue ReadValue(int depth)
    {
        if (depth > MaxDepth)
        {
            throw Error($"nesting deeper than {MaxDepth} levels");
        }
        SkipWhitespace();
        return Peek() switch
        {
            '{' => ReadObject(depth),
            '[' => ReadArray(depth),
            '"' => new JsonString(ReadString()),
            't' => ReadLiteral("true"),
            'f' => ReadLiteral("false"),
            'n' => ReadLiteral("null"),
            '\0' when _position >= _text.Length => throw Error("unexpected end of the file"),
            var c when c == '-' || (c >= '0' && c <= '9') => ReadNumber(),
            var c => throw Error($"unexpected character '{c}'"),
        };
    }

    private JsonObject ReadObject(int depth)
    {
        var result = new JsonObject();
        _position++;
        SkipWhitespace();
        if (Peek() == '}')
        {
            _position++;
            return result;
        }
        while (true)
        {
            SkipWhitespace();
            if (Peek() != '"')
            {
                throw Error("expected a property name in double quotes");
            }
            var key = ReadString();
            SkipWhitespace();
            Expect(':');
            result.Members.Add(new KeyValuePair<string, JsonValue>(key, ReadValue(depth + 1)));
            SkipWhitespace();
            if (Peek() == ',')
            {
                _position++;
                continue;
            }
            Expect('}');
            return result;
        }
    }

    private JsonArray ReadArray(int depth)
    {
        var result = new JsonArray();
        _position++;
        SkipWhitespace();
        if (Peek() == ']')
        {
            _position++;
            return result;
        }
        while (true)
        {
            result.Items.Add(ReadValue(depth + 1));
            SkipWhitespace();
            if (Peek() == ',')
            {
                _position++;
                continue;
            }
            Expect(']');
            return result;
        }
    }

    private string ReadString()
    {
        _position++;
        var builder = new StringBuilder();
        while (true)
        {
            if (_position >= _text.Length)
            {
                throw Error("unterminated string");
            }
            var c = _text[_position++];
            switch (c)
            {
                case '"':
                    return builder.ToString();
                case '\\':
                    builder.Append(ReadEscape());
                    break;
                case '\n' or '\r':
                    throw Error("line break inside a string");
                default:
                    builder.Append(c);
                    break;
            }
        }
    }

    private char ReadEscape()
    {
        if (_position >= _text.Length)
        {
            throw Error("unterminated escape");
        }
        var c = _text[_position++];
        switch (c)
        {
            case '"' or '\\' or '/':
                return c;
            case 'b':
                return '\b';
            case 'f':
                return '\f';
            case 'n':
                return '\n';
            case 'r':
                return '\r';
            case 't':
                return '\t';
            case 'u' when _position + 4 <= _text.Length
                && ushort.TryParse(_text.Substring(_position, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code):
                _position += 4;
                return (char)code;
            default:
                throw Error($"invalid escape '\\{c}'");
        }
    }

    private JsonNumber ReadNumber()
    {
        var start = _position;
        if (Peek() == '-')
        {
            _position++;
        }
        ReadDigits();
        if (Peek() == '.')
        {
            _position++;
            ReadDigits();
        }
        if (Peek() is 'e' or 'E')
        {
            _position++;
            if (Peek() is '+' or '-')
            {
                _position++;
            }
            ReadDigits();
        }
        return new JsonNumber(_text.Substring(start, _position - start));
    }

    private void ReadDigits()
    {
        var start = _position;
        while (Peek() >= '0' && Peek() <= '9')
        {
            _position++;
        }
        if (_position == start)
        {
            throw Error("expected a digit");
        }
    }

    private JsonLiteral ReadLiteral(string literal)
    {
        if (string.CompareOrdinal(_text, _position, literal, 0, literal.Length) != 0)
        {
            throw Error($"expected '{literal}'");
        }
        _position += literal.Length;
        return new JsonLiteral(literal);
    }

    private void Expect(char expected)
    {
        if (Peek() != expected)
        {
            throw Error(_position >= _text.Length ? $"unexpected end of the file, expected '{expected}'" : $"expected '{expected}' but found '{Peek()}'");
        }
        _position++;
    }

    private void SkipWhitespace()
    {
        while (_position < _text.Length)
        {
            var c = _text[_position];
            if (c == '\n')
            {
                _line++;
                _lineStart = _position + 1;
            }
            else if (c != ' ' && c != '\t' && c != '\r')
            {
                return;
            }
            _position++;
        }
    }

    private char Peek() => _position < _text.Length ? _text[_position] : '\0';

    private JsonSyntaxException Error(string message) => new(message, _line, _position - _lineStart + 1);
}
