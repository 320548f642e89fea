import CZlib

/// The number of bytes the zlib stream in `data` inflates to, read as
/// libhdf5's deflate filter reads it (`inflate` until the stream's end;
/// bytes after it are ignored). Nil for a stream that is damaged, ends
/// early, or outgrows `limit`. Memory: one 64 KiB window, whatever the size.
func inflatedLength(_ data: UnsafeRawBufferPointer, limit: Int) -> Int? {
    guard let input = data.baseAddress, data.count <= Int(UInt32.max) else { return nil }
    var z = z_stream()
    guard ckpt_inflateInit(&z) == Z_OK else { return nil }
    defer { inflateEnd(&z) }
    z.next_in = UnsafeMutablePointer(mutating: input.assumingMemoryBound(to: Bytef.self))
    z.avail_in = uInt(data.count)
    let window = UnsafeMutablePointer<Bytef>.allocate(capacity: 1 << 16)
    defer { window.deallocate() }
    while true {
        z.next_out = window
        z.avail_out = 1 << 16
        let status = inflate(&z, Z_NO_FLUSH)
        guard Int(z.total_out) <= limit else { return nil }
        if status == Z_STREAM_END { return Int(z.total_out) }
        // Z_BUF_ERROR: the input ran out before the stream's end.
        guard status == Z_OK else { return nil }
    }
}
