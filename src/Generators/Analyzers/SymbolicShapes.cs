using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// One dimension of a shape in config terms: a number (<c>768</c>), a product of run sizes and a number
/// (<c>batch</c>, <c>batch·seq</c>, <c>batch·seq·768</c>), or unknown (<c>?</c>). Run sizes (<c>batch</c>, <c>seq</c>,
/// <c>past+seq</c>, <c>tokens</c>) are whole numbers the analyzer never knows, so only what holds for every value of them
/// is a fact: <c>batch</c> may be 1 or 768, <c>768·seq</c> is never 1 nor 1000.
/// </summary>
internal sealed class SymbolicDim : IEquatable<SymbolicDim>
{
    private SymbolicDim(bool known, long factor, ImmutableArray<string> symbols)
    {
        IsKnown = known;
        Factor = factor;
        Symbols = symbols;
    }

    /// <summary>A dimension nothing is known of.</summary>
    public static SymbolicDim Unknown { get; } = new(false, 1, ImmutableArray<string>.Empty);

    /// <summary>Whether anything is known of the size.</summary>
    public bool IsKnown { get; }

    /// <summary>The numeric factor of the size (the whole size when there are no symbols).</summary>
    public long Factor { get; }

    /// <summary>The run sizes the size is a product of, in ordinal order (so equal products are written alike).</summary>
    public ImmutableArray<string> Symbols { get; }

    /// <summary>Whether the size is a number.</summary>
    public bool IsConstant => IsKnown && Symbols.IsEmpty;

    /// <summary>Whether the size may be 1 for some run (broadcasting stretches a size of 1).</summary>
    public bool CanBeOne => !IsKnown || Factor == 1;

    public static SymbolicDim Constant(long size) => new(true, size, ImmutableArray<string>.Empty);

    public static SymbolicDim Symbol(string name) => new(true, 1, ImmutableArray.Create(name));

    /// <summary>The product of two sizes (flattening).</summary>
    public SymbolicDim Times(SymbolicDim other) =>
        IsKnown && other.IsKnown ? new SymbolicDim(true, Factor * other.Factor, Symbols.AddRange(other.Symbols).Sort(StringComparer.Ordinal)) : Unknown;

    /// <summary>
    /// Whether the two sizes may be equal for some run. Two products of run sizes always may (the same name in two
    /// invocations can stand for different sizes); a number and a product may when the number is a multiple of its factor.
    /// </summary>
    public bool CanEqual(SymbolicDim other)
    {
        if (!IsKnown || !other.IsKnown)
        {
            return true;
        }
        return (IsConstant, other.IsConstant) switch
        {
            (true, true) => Factor == other.Factor,
            (true, false) => Factor % other.Factor == 0,
            (false, true) => other.Factor % Factor == 0,
            _ => true,
        };
    }

    /// <summary>Whether the two sizes are written alike (the same number, or the same product of the same run sizes).</summary>
    public bool Equals(SymbolicDim? other) =>
        other is not null && IsKnown && other.IsKnown && Factor == other.Factor && Symbols.SequenceEqual(other.Symbols, StringComparer.Ordinal);

    public override bool Equals(object? obj) => obj is SymbolicDim other && Equals(other);

    public override int GetHashCode() => IsKnown ? Factor.GetHashCode() ^ Symbols.Length : 0;

    /// <summary>As the XML docs write it: <c>768</c>, <c>batch·seq</c>, <c>?</c>.</summary>
    public override string ToString()
    {
        if (!IsKnown)
        {
            return "?";
        }
        var parts = Symbols.ToList();
        if (Factor != 1 || parts.Count == 0)
        {
            parts.Add(Factor.ToString(CultureInfo.InvariantCulture));
        }
        return string.Join("·", parts);
    }
}

/// <summary>
/// The structure of a value in config terms, as the generator's <c>[Shape]</c> attributes and XML docs write it: a
/// tensor <c>[batch, seq, 768]</c> or a tuple <c>([batch, seq, 768], 12 × ([...], [...]))</c>. A number is a tensor of
/// no dimensions, as it broadcasts like one. Unknown parts are null (<c>?</c>).
/// </summary>
internal abstract class SymbolicShape
{
    private protected SymbolicShape()
    {
    }

    /// <summary>A number, or any 0-d value.</summary>
    public static SymbolicTensor Scalar { get; } = new(ImmutableArray<SymbolicDim>.Empty);

    /// <summary>Reads the text of a <c>[Shape]</c> attribute; null when it is not in the symbolic form.</summary>
    public static SymbolicShape? Parse(string text)
    {
        var reader = new Reader(text);
        try
        {
            var shape = reader.Shape();
            reader.SkipSpaces();
            return reader.AtEnd ? shape : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Recursive-descent reader of the symbolic form.</summary>
    private sealed class Reader(string text)
    {
        private int _position;

        public bool AtEnd => _position >= text.Length;

        public void SkipSpaces()
        {
            while (!AtEnd && text[_position] == ' ')
            {
                _position++;
            }
        }

        public SymbolicShape? Shape()
        {
            SkipSpaces();
            if (AtEnd)
            {
                throw new FormatException();
            }
            switch (text[_position])
            {
                case '[':
                    return Tensor();
                case '(':
                    return Tuple();
                case '?':
                    _position++;
                    return null;
                default:
                    var count = Number();
                    SkipSpaces();
                    Expect('×');
                    var element = Shape();
                    return new SymbolicTuple(Enumerable.Repeat(element, checked((int)count)).ToImmutableArray(), repeated: true);
            }
        }

        private SymbolicTensor Tensor()
        {
            Expect('[');
            var dims = ImmutableArray.CreateBuilder<SymbolicDim>();
            SkipSpaces();
            if (!AtEnd && text[_position] == ']')
            {
                _position++;
                return new SymbolicTensor(dims.ToImmutable());
            }
            while (true)
            {
                dims.Add(Dim());
                SkipSpaces();
                if (Accept(']'))
                {
                    return new SymbolicTensor(dims.ToImmutable());
                }
                Expect(',');
            }
        }

        private SymbolicTuple Tuple()
        {
            Expect('(');
            var elements = ImmutableArray.CreateBuilder<SymbolicShape?>();
            while (true)
            {
                elements.Add(Shape());
                SkipSpaces();
                if (Accept(')'))
                {
                    return new SymbolicTuple(elements.ToImmutable(), repeated: false);
                }
                Expect(',');
            }
        }

        private SymbolicDim Dim()
        {
            SkipSpaces();
            if (Accept('?'))
            {
                return SymbolicDim.Unknown;
            }
            var dim = Part();
            while (Accept('·'))
            {
                dim = dim.Times(Part());
            }
            return dim;
        }

        private SymbolicDim Part()
        {
            if (!AtEnd && char.IsDigit(text[_position]))
            {
                return SymbolicDim.Constant(Number());
            }
            var start = _position;
            while (!AtEnd && (char.IsLetter(text[_position]) || text[_position] is '_' or '+'))
            {
                _position++;
            }
            return _position > start ? SymbolicDim.Symbol(text.Substring(start, _position - start)) : throw new FormatException();
        }

        private long Number()
        {
            var start = _position;
            while (!AtEnd && char.IsDigit(text[_position]))
            {
                _position++;
            }
            return _position > start && long.TryParse(text.Substring(start, _position - start), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new FormatException();
        }

        private bool Accept(char expected)
        {
            SkipSpaces();
            if (!AtEnd && text[_position] == expected)
            {
                _position++;
                return true;
            }
            return false;
        }

        private void Expect(char expected)
        {
            if (!Accept(expected))
            {
                throw new FormatException();
            }
        }
    }
}

/// <summary>A tensor's dimensions in config terms.</summary>
internal sealed class SymbolicTensor(ImmutableArray<SymbolicDim> dims) : SymbolicShape
{
    public ImmutableArray<SymbolicDim> Dims { get; } = dims;

    public int Rank => Dims.Length;

    public SymbolicTensor With(IEnumerable<SymbolicDim> dims) => new(dims.ToImmutableArray());

    /// <summary><c>[batch, seq, 768]</c>.</summary>
    public override string ToString() => "[" + string.Join(", ", Dims) + "]";
}

/// <summary>A tuple's elements (null where an element is unknown); <c>12 × (...)</c> when written as repeated.</summary>
internal sealed class SymbolicTuple(ImmutableArray<SymbolicShape?> elements, bool repeated) : SymbolicShape
{
    public ImmutableArray<SymbolicShape?> Elements { get; } = elements;

    /// <summary>Whether the tuple is written <c>n × element</c>.</summary>
    public bool Repeated { get; } = repeated;

    public override string ToString()
    {
        if (Repeated && Elements.Length > 0)
        {
            return Elements.Length.ToString(CultureInfo.InvariantCulture) + " × " + Format(Elements[0]);
        }
        var builder = new StringBuilder("(");
        builder.Append(string.Join(", ", Elements.Select(Format)));
        return builder.Append(')').ToString();
    }

    private static string Format(SymbolicShape? shape) => shape?.ToString() ?? "?";
}
