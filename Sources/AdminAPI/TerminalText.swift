/// Text a machine sent (vendor class, host name, serial, a Redfish string, an error a
/// webhook answered) made safe to print on an operator's terminal: control characters
/// are shown as escapes instead of being obeyed, so a device cannot move the cursor,
/// rewrite earlier lines, set the window title or hide text (`ESC [ ...`, OSC, BEL).
///
/// C0 controls (tab and newline too: a table cell stays on its line) and DEL become `\x1b`;
/// C1 controls and the bidirectional overrides, which reorder what the eye reads, become
/// `\u{9b}`. Everything else, including non-ASCII letters, is kept. JSON output needs none
/// of this: the encoder escapes control characters itself.
public func terminalEscaped(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: needsEscape) else { return text }
    var escaped = ""
    for scalar in text.unicodeScalars {
        if !needsEscape(scalar) {
            escaped.unicodeScalars.append(scalar)
        } else if scalar.value < 0x80 {
            escaped += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
        } else {
            escaped += "\\u{" + String(scalar.value, radix: 16) + "}"
        }
    }
    return escaped
}

private func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: true
    default: false
    }
}
