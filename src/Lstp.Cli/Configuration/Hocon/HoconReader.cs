using System.Text;

namespace Lstp.Cli.Configuration.Hocon;

/// <summary>
/// Reads the HOCON that `--config` files are written in: objects (<c>key { }</c>, <c>key = { }</c>), dotted keys
/// (<c>lstp.end.name = x</c>), <c>=</c> or <c>:</c>, arrays, quoted strings with JSON escapes, unquoted values up to
/// the end of the line, <c>#</c> and <c>//</c> comments, fields separated by newlines or commas, a later key
/// overriding an earlier one (objects merge), and <c>${VAR}</c> / <c>${?VAR}</c> taking a whole value from the
/// environment. JSON is a subset, so a JSON file reads too. Every mistake throws <see cref="HoconException"/> with
/// its line and column.
/// Written by hand because Akka's own parser (1.5.75) does not refuse broken files: measured here, it hangs on an
/// unterminated array or on <c>${?VAR}</c>, overflows the stack on <c>name = [x</c>, and silently accepts an unclosed
/// object, an unterminated string or an extra brace. A product that reads a user's file must answer "line 7:
/// unterminated array", so the file is read here and only what this reader accepted ever reaches Akka.
/// </summary>
public sealed class HoconReader
{
    private readonly string _text;
    private readonly Func<string, string?> _environment;
    private int _pos;
    private int _line = 1;
    private int _lineStart;

    private HoconReader(string text, Func<string, string?> environment)
    {
        _text = text;
        _environment = environment;
    }

    /// <summary>Reads a whole document; <paramref name="environment"/> answers <c>${VAR}</c> (default: the process's).</summary>
    public static HoconObject Read(string text, Func<string, string?>? environment = null)
    {
        var reader = new HoconReader(text, environment ?? Environment.GetEnvironmentVariable);
        return reader.Document();
    }

    private HoconObject Document()
    {
        var root = new HoconObject(1);
        SkipSpace(newlines: true);
        if (Peek() == '{')
        {
            var (line, column) = (_line, Column);
            _pos++;
            Fields(root, closing: '}', line, column);
        }
        else
        {
            Fields(root, closing: null, 1, 1);
        }
        SkipSpace(newlines: true);
        if (!AtEnd) throw Error($"unexpected '{Peek()}' after the end of the document");
        return root;
    }

    /// <summary>Fields up to <paramref name="closing"/> (or the end of the text for the root without braces).</summary>
    private void Fields(HoconObject into, char? closing, int openLine, int openColumn)
    {
        while (true)
        {
            SkipSpace(newlines: true);
            if (AtEnd)
            {
                if (closing is null) return;
                throw new HoconException(openLine, openColumn, "unterminated object: the '{' opened here is never closed");
            }
            var c = Peek();
            if (c == closing)
            {
                _pos++;
                return;
            }
            if (c is '}' or ']') throw Error($"unexpected '{c}'");
            if (c == ',') throw Error("unexpected ','");
            Field(into);
            SkipSpace(newlines: false);
            if (AtEnd) continue;
            c = Peek();
            if (c == ',') _pos++;
            else if (c is '}' or ']' && c != closing) throw Error($"unexpected '{c}': no '{(c == '}' ? '{' : '[')}' is open here");
            else if (c is not ('\n' or '\r') && c != closing) throw Error($"expected a new line or ',' after a field, found '{c}'");
        }
    }

    private void Field(HoconObject into)
    {
        var line = _line;
        var path = Key();
        SkipSpace(newlines: false);
        HoconNode? value;
        if (Peek() == '{')
        {
            value = Value();
        }
        else if (Peek() is '=' or ':')
        {
            _pos++;
            SkipSpace(newlines: true);
            value = Value();
        }
        else if (_text.AsSpan(_pos).StartsWith("+="))
        {
            throw Error("'+=' is not supported: give the whole array");
        }
        else
        {
            throw Error(AtEnd ? $"'{string.Join('.', path)}' has no value" : $"expected '=', ':' or '{{' after '{string.Join('.', path)}'");
        }
        if (value is null) return; // ${?VAR} with VAR unset: the field is left out
        var target = into;
        for (var i = 0; i < path.Count - 1; i++) target = target.Child(path[i], line);
        target.Set(path[^1], value);
    }

    private List<string> Key()
    {
        var segments = new List<string>();
        while (true)
        {
            if (Peek() == '"')
            {
                segments.Add(Quoted());
            }
            else
            {
                var start = _pos;
                while (!AtEnd && (char.IsLetterOrDigit(Peek()) || Peek() is '-' or '_')) _pos++;
                if (_pos == start)
                {
                    throw Error(AtEnd ? "a key is missing" : $"'{Peek()}' cannot start a key (keys are letters, digits, '-' and '_', or quoted)");
                }
                segments.Add(_text[start.._pos]);
            }
            if (Peek() != '.') return segments;
            _pos++;
        }
    }

    /// <summary>One value; null for an unset <c>${?VAR}</c>.</summary>
    private HoconNode? Value()
    {
        var (line, column) = (_line, Column);
        if (AtEnd) throw Error("a value is missing");
        switch (Peek())
        {
            case '{':
                _pos++;
                var obj = new HoconObject(line);
                Fields(obj, '}', line, column);
                return obj;
            case '[':
                _pos++;
                return Array(line, column);
            case '"':
                return new HoconScalar(Quoted(), true, line);
            case '$':
                return Substitution();
            case ',' or '}' or ']' or '\n' or '\r' or '#':
                throw Error("a value is missing");
            case '/' when _text.AsSpan(_pos).StartsWith("//"):
                throw Error("a value is missing");
            default:
                return Unquoted();
        }
    }

    private HoconArray Array(int line, int column)
    {
        var items = new List<HoconNode>();
        while (true)
        {
            SkipSpace(newlines: true);
            if (AtEnd) throw new HoconException(line, column, "unterminated array: the '[' opened here is never closed");
            if (Peek() == ']')
            {
                _pos++;
                return new HoconArray(items, line);
            }
            if (Peek() == ',') throw Error("unexpected ','");
            if (LooksLikeField()) throw new HoconException(line, column, $"unterminated array: the '[' opened here is never closed (line {_line} looks like the next field)");
            if (Value() is { } item) items.Add(item);
            SkipSpace(newlines: false);
            if (AtEnd) continue;
            var c = Peek();
            if (c == ',') _pos++;
            else if (c is not ('\n' or '\r' or ']')) throw Error($"expected ',' or ']' in an array, found '{c}'");
        }
    }

    private string Quoted()
    {
        var (line, column) = (_line, Column);
        _pos++;
        var text = new StringBuilder();
        while (true)
        {
            if (AtEnd || Peek() is '\n' or '\r') throw new HoconException(line, column, "unterminated string: the '\"' opened here is never closed on its line");
            var c = _text[_pos++];
            if (c == '"') return text.ToString();
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }
            if (AtEnd) continue;
            var escaped = _text[_pos++];
            switch (escaped)
            {
                case '"' or '\\' or '/': text.Append(escaped); break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'u' when _pos + 4 <= _text.Length && ushort.TryParse(_text.AsSpan(_pos, 4), System.Globalization.NumberStyles.HexNumber, null, out var code):
                    text.Append((char)code);
                    _pos += 4;
                    break;
                default:
                    _pos--;
                    throw Error($"unknown escape '\\{escaped}' in a string");
            }
        }
    }

    private HoconScalar? Substitution()
    {
        var line = _line;
        if (!_text.AsSpan(_pos).StartsWith("${")) throw Error("'$' starts a substitution: ${VAR} or ${?VAR}");
        _pos += 2;
        var optional = Peek() == '?';
        if (optional) _pos++;
        var start = _pos;
        while (!AtEnd && (char.IsLetterOrDigit(Peek()) || Peek() is '_' or '.' or '-')) _pos++;
        var name = _text[start.._pos];
        if (name.Length == 0 || Peek() != '}') throw Error("expected ${VAR} or ${?VAR} (an environment variable's name)");
        _pos++;
        var value = _environment(name);
        if (value is not null) return new HoconScalar(value, true, line);
        if (optional) return null;
        throw Error($"${{{name}}}: the environment variable {name} is not set (write ${{?{name}}} to leave the field out instead)");
    }

    private HoconScalar Unquoted()
    {
        var line = _line;
        var start = _pos;
        while (!AtEnd)
        {
            var c = Peek();
            if (c is '\n' or '\r' or ',' or '}' or ']' or '#') break;
            if (c == '/' && _text.AsSpan(_pos).StartsWith("//"))
            {
                if (_pos > start && !char.IsWhiteSpace(_text[_pos - 1])) throw Error("'//' starts a comment: put a value that contains '//' (a URL) in quotes");
                break;
            }
            if (c is '{' or '[' or '"' or '=' or '$') throw Error($"'{c}' inside an unquoted value: put the value in quotes");
            _pos++;
        }
        var text = _text[start.._pos].Trim();
        return new HoconScalar(text, false, line);
    }

    /// <summary>Whether the rest of the line reads <c>key =</c> or <c>key {</c>: a field, where an array item was due.</summary>
    private bool LooksLikeField()
    {
        var i = _pos;
        while (i < _text.Length && (char.IsLetterOrDigit(_text[i]) || _text[i] is '-' or '_' or '.')) i++;
        if (i == _pos) return false;
        while (i < _text.Length && _text[i] is ' ' or '\t') i++;
        return i < _text.Length && _text[i] is '=' or '{';
    }

    /// <summary>Skips spaces, tabs and comments; with <paramref name="newlines"/> also line breaks.</summary>
    private void SkipSpace(bool newlines)
    {
        while (!AtEnd)
        {
            var c = Peek();
            if (c == '\n')
            {
                if (!newlines) return;
                _pos++;
                _line++;
                _lineStart = _pos;
            }
            else if (c == '\r')
            {
                if (!newlines) return;
                _pos++;
            }
            else if (c is ' ' or '\t' or '\uFEFF')
            {
                _pos++;
            }
            else if (c == '#' || (c == '/' && _text.AsSpan(_pos).StartsWith("//")))
            {
                while (!AtEnd && Peek() != '\n') _pos++;
            }
            else
            {
                return;
            }
        }
    }

    private bool AtEnd => _pos >= _text.Length;

    private char Peek() => AtEnd ? '\0' : _text[_pos];

    private int Column => _pos - _lineStart + 1;

    private HoconException Error(string message) => new(_line, Column, message);
}
