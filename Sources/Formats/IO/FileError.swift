// FileError — operating-system failures while reading or writing a path.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An operating-system call on a path failed.
public struct FileError: Error, CustomStringConvertible, Equatable {
    /// The path the call was about.
    public let path: String
    /// What ckpt was doing (`"open"`, `"write"`, `"rename"`, …).
    public let operation: String
    /// The `errno` value.
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// Captures the current `errno`.
    public static func current(_ path: String, _ operation: String) -> FileError {
        FileError(path: path, operation: operation, code: errno)
    }

    public var description: String {
        "\(path): \(operation) failed: \(String(cString: strerror(code)))"
    }
}
