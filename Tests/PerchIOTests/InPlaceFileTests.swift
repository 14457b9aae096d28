import Glibc
import PerchIO
import Testing

@Suite struct InPlaceFileTests {
    let dir: String
    init() throws { dir = try makeTemporaryDirectory("perch-inplace") }

    func inode(_ path: String) -> UInt {
        var st = stat()
        return stat(path, &st) == 0 ? UInt(st.st_ino) : 0
    }

    @Test func shorterContentsArePaddedInPlaceAndLongerOnesReplaceTheFile() throws {
        defer { _ = system("rm -rf '\(dir)'") }
        let file = InPlaceFile(path: "\(dir)/state.xml")
        try file.write(body: Array("<s><a/>".utf8), tail: Array("</s>".utf8))
        let first = try #require(readTextFile(file.path))
        #expect(first.hasPrefix("<s><a/>") && first.hasSuffix("</s>"))
        #expect(first.utf8.count == 512, "room to grow in place")
        let created = inode(file.path)

        // Shorter and longer contents that fit: the same file, padded between body and tail.
        try file.write(body: Array("<s>".utf8), tail: Array("</s>".utf8))
        #expect(readTextFile(file.path) == "<s>" + String(repeating: " ", count: 505) + "</s>")
        let body = "<s>" + String(repeating: "<b/>", count: 100)
        try file.write(body: Array(body.utf8), tail: Array("</s>".utf8))
        #expect(readTextFile(file.path)?.hasPrefix(body) == true)
        #expect(inode(file.path) == created, "overwritten in place, not replaced")

        // Outgrowing the file: replaced atomically, then written in place again at the new size.
        let big = "<s>" + String(repeating: "<b/>", count: 200)
        try file.write(body: Array(big.utf8), tail: Array("</s>".utf8))
        let grown = try #require(readTextFile(file.path))
        #expect(grown.hasPrefix(big) && grown.hasSuffix("</s>") && grown.utf8.count >= big.utf8.count + 4)
        #expect(inode(file.path) != created)
        let replaced = inode(file.path)
        try file.write(body: Array("<s>".utf8), tail: Array("</s>".utf8))
        #expect(readTextFile(file.path)?.utf8.count == grown.utf8.count)
        #expect(inode(file.path) == replaced)
    }

    @Test func contentsBeyondTheInPlaceLimitAreAlwaysReplacedAtomically() throws {
        defer { _ = system("rm -rf '\(dir)'") }
        let file = InPlaceFile(path: "\(dir)/state.xml")
        let big = Array(repeating: UInt8(ascii: "x"), count: InPlaceFile.maxInPlace + 10_000)
        try file.write(body: big, tail: [])
        let first = inode(file.path)
        try file.write(body: Array(big.prefix(5_000)), tail: [])
        #expect(inode(file.path) != first)
        #expect(readFile(file.path, limit: 1 << 20)?.prefix(5_001).last == UInt8(ascii: " "), "padded for growth")
    }

    @Test func aRemovedFileIsWrittenAfresh() throws {
        defer { _ = system("rm -rf '\(dir)'") }
        let file = InPlaceFile(path: "\(dir)/state.xml")
        try file.write(body: Array("one".utf8), tail: [])
        file.remove()
        #expect(!fileExists(file.path))
        try file.write(body: Array("two".utf8), tail: [])
        #expect(readTextFile(file.path)?.hasPrefix("two") == true)
    }

    /// A symbolic link planted at the state file's path is replaced, never written through.
    @Test func aSymbolicLinkAtThePathIsNotWrittenThrough() throws {
        defer { _ = system("rm -rf '\(dir)'") }
        let victim = "\(dir)/victim"
        try writeFileAtomically(victim, Array(String(repeating: "precious\n", count: 100).utf8))
        #expect(symlink(victim, "\(dir)/state.xml") == 0)
        let file = InPlaceFile(path: "\(dir)/state.xml")
        try file.write(body: Array("<s/>".utf8), tail: [])
        #expect(readTextFile(victim) == String(repeating: "precious\n", count: 100), "written through the link")
        var st = stat()
        #expect(lstat(file.path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "the link is replaced by a file")
        #expect(readTextFile(file.path)?.hasPrefix("<s/>") == true)
    }

    /// The temporary file of an atomic write is created new: a link (or a stale file) at its name is
    /// removed, and its target left alone.
    @Test func theTemporaryFileIsCreatedNewNotThroughALink() throws {
        defer { _ = system("rm -rf '\(dir)'") }
        let victim = "\(dir)/victim"
        try writeFileAtomically(victim, Array("precious".utf8))
        #expect(symlink(victim, "\(dir)/data.tmp-\(getpid())") == 0)
        try writeFileAtomically("\(dir)/data", Array("new".utf8), mode: 0o600)
        #expect(readTextFile(victim) == "precious")
        #expect(readTextFile("\(dir)/data") == "new")
        var st = stat()
        #expect(lstat("\(dir)/data", &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o777 == 0o600)
        #expect(!fileExists("\(dir)/data.tmp-\(getpid())"))
    }
}
