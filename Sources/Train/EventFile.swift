// EventFile — scalars in TensorBoard's event-file format: TFRecord framing
// (length, masked CRC-32C of the length, payload, masked CRC-32C of the
// payload) around `Event` protocol buffers with a `Summary` of simple values.

import Formats

#if canImport(Glibc)
import Glibc
#endif

final class EventFile {
    let path: String
    private let fd: Int32

    /// Creates `directory/events.out.tfevents.<seconds>.<host>` and writes the version record.
    init(directory: String) throws {
        try FileSystem.makeDirectories(directory)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        path = FileSystem.join(directory, "events.out.tfevents.\(ts.tv_sec).\(hostName.isEmpty ? "localhost" : hostName)")
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.current(path, "open") }
        var event = EventFile.header(step: 0)
        event += [0x1A] + varint(UInt64("brain.Event:2".utf8.count)) + Array("brain.Event:2".utf8)
        record(event)
    }

    deinit { close(fd) }

    /// One event holding `values` at `step`.
    func scalars(step: Int, _ values: [(tag: String, value: Double)]) {
        var summary: [UInt8] = []
        for (tag, value) in values {
            var v: [UInt8] = [0x0A] + varint(UInt64(tag.utf8.count)) + Array(tag.utf8)
            v += [0x15] + withUnsafeBytes(of: Float(value).bitPattern.littleEndian, Array.init)
            summary += [0x0A] + varint(UInt64(v.count)) + v
        }
        record(EventFile.header(step: step) + [0x2A] + varint(UInt64(summary.count)) + summary)
    }

    private static func header(step: Int) -> [UInt8] {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let wall = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        return [0x09] + withUnsafeBytes(of: wall.bitPattern.littleEndian, Array.init) + [0x10] + varint(UInt64(bitPattern: Int64(step)))
    }

    private func record(_ data: [UInt8]) {
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        var out = length
        out += withUnsafeBytes(of: maskedCRC(length).littleEndian, Array.init)
        out += data
        out += withUnsafeBytes(of: maskedCRC(data).littleEndian, Array.init)
        out.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; return }  // metrics are best effort
                done += n
            }
        }
    }
}

func varint(_ value: UInt64) -> [UInt8] {
    var v = value, out: [UInt8] = []
    while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
    out.append(UInt8(v))
    return out
}

/// CRC-32C (Castagnoli), masked as TFRecord does.
func maskedCRC(_ data: [UInt8]) -> UInt32 {
    let crc = crc32c(data)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

private let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    return c
}

func crc32c(_ data: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in data { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}
