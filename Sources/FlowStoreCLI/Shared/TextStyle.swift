import FlowStoreCore

/// How text output looks: quoting, colour, and making stored strings safe to print.
///
/// Names, messages and authors come from users (and from other stores), so anything printed
/// for a person has its control characters escaped: a crafted commit message cannot move the
/// cursor or recolour the terminal.
enum TextStyle {
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
    }

    /// `text` with every control character written as `\u{…}`.
    static func safe(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `"text"`, with quotes and backslashes escaped and control characters made visible.
    static func quoted(_ text: String) -> String {
        var inner = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": inner += "\\\""
            case "\\": inner += "\\\\"
            default: inner.unicodeScalars.append(scalar)
            }
        }
        return "\"\(safe(inner))\""
    }

    /// A multi-line message, each line indented and made safe.
    static func indentedLines(_ text: String, indent: String = "    ") -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { indent + safe(String($0)) }
    }

    static func pad(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    enum Color: String {
        case red = "31", green = "32", yellow = "33", cyan = "36", dim = "2", bold = "1"
    }

    /// `text` in `color` when the console uses colour, else unchanged.
    static func paint(_ text: String, _ color: Color, _ console: Console = .current) -> String {
        console.usesColor ? "\u{1b}[\(color.rawValue)m\(text)\u{1b}[0m" : text
    }

    /// A JSON value on one line (canonical form), shortened to `limit` characters.
    static func compactJSON(_ value: JSONValue, limit: Int = 120) -> String {
        let text = (try? value.canonicalString) ?? value.prettyPrinted(indent: 0)
        let safeText = safe(text)
        guard safeText.count > limit else { return safeText }
        return String(safeText.prefix(limit - 1)) + "…"
    }

    /// `—` for nothing, else the short id.
    static func short(_ id: ObjectID?) -> String {
        id?.short ?? "-"
    }
}
