using System.Text;

namespace NnSight.Generators.Emit;

/// <summary>Writes source lines at the current indentation (four spaces per level, LF line ends).</summary>
internal sealed class IndentedWriter
{
    private readonly StringBuilder _builder = new();
    private int _depth;

    public IndentedWriter Line(string text = "")
    {
        if (text.Length > 0)
        {
            _builder.Append(' ', _depth * 4).Append(text);
        }
        _builder.Append('\n');
        return this;
    }

    /// <summary>Writes <paramref name="header"/> and an opening brace, and indents.</summary>
    public IndentedWriter Open(string header)
    {
        Line(header);
        Line("{");
        _depth++;
        return this;
    }

    /// <summary>Unindents and writes a closing brace (dropping a blank line right before it).</summary>
    public IndentedWriter Close()
    {
        if (_builder.Length >= 2 && _builder[_builder.Length - 1] == '\n' && _builder[_builder.Length - 2] == '\n')
        {
            _builder.Length--;
        }
        _depth--;
        return Line("}");
    }

    /// <summary>Writes a one-line XML doc summary.</summary>
    public IndentedWriter Summary(string text) => Line($"/// <summary>{Escape(text)}</summary>");

    public override string ToString() => _builder.ToString();

    /// <summary>Text made safe for XML docs.</summary>
    public static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
