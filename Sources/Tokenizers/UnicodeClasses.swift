// Character classes with the definitions the reference tokenizers use.

extension Unicode.Scalar {
    /// Rust's `char::is_whitespace` (the White_Space property).
    @inline(__always)
    var isWhitespaceChar: Bool {
        if value < 0x80 { return value == 0x20 || (value >= 0x09 && value <= 0x0D) }
        return ScalarTables.has(self, ScalarTables.whitespace) ?? properties.isWhitespace
    }

    /// BERT's whitespace: tab, newline, carriage return, or White_Space.
    @inline(__always)
    var isBertWhitespace: Bool { isWhitespaceChar }

    /// BERT's control characters: the "other" categories (Cc, Cf, Co, Cs) except
    /// tab, newline and carriage return.
    @inline(__always)
    var isBertControl: Bool {
        if value < 0x80 { return (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F }
        if value < 0xA0 { return true }  // C1 controls
        if let f = ScalarTables.has(self, ScalarTables.control) { return f }
        switch properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks BERT surrounds with spaces.
    var isChineseChar: Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Unicode punctuation (categories P*).
    var isUnicodePunctuation: Bool {
        if let f = ScalarTables.has(self, ScalarTables.punctuation) { return f }
        switch properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// BERT punctuation: ASCII punctuation or Unicode punctuation.
    @inline(__always)
    var isBertPunctuation: Bool {
        if value < 0x80 { return 0x21...0x2F ~= value || 0x3A...0x40 ~= value || 0x5B...0x60 ~= value || 0x7B...0x7E ~= value }
        return isUnicodePunctuation
    }

    /// Rust's `char::is_numeric` (categories Nd, Nl, No).
    var isNumericChar: Bool {
        if value < 0x80 { return value >= 0x30 && value <= 0x39 }
        if let f = ScalarTables.has(self, ScalarTables.numeric) { return f }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Regex `\w` (Unicode): Alphabetic, marks, decimal digits, connector punctuation, join controls.
    var isWordChar: Bool {
        if value < 0x80 {
            return (value >= 0x30 && value <= 0x39) || (value >= 0x41 && value <= 0x5A) || (value >= 0x61 && value <= 0x7A) || value == 0x5F
        }
        if let f = ScalarTables.has(self, ScalarTables.word) { return f }
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// Nonspacing mark (Mn).
    @inline(__always)
    var isNonspacingMark: Bool {
        guard value >= 0x300 else { return false }
        return ScalarTables.has(self, ScalarTables.nonspacingMark) ?? (properties.generalCategory == .nonspacingMark)
    }
}
