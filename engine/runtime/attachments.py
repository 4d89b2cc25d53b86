"""Files attached to a case on one of its tasks: stored in the database, checked on the way in.

The type of a file is what its bytes are, never what the browser says: the extension must be on
the allow-list and the content must match it (see `detect`). The stored content type comes from
our table, so a download can never be served as HTML or script.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import unicodedata
import zipfile

import filetype
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import history
from engine.errors import Forbidden, InvalidData, NotFound, TooLarge
from engine.runtime import access, tasks
from engine.store.models import Attachment, Instance, Task, User

MAX_FILENAME = 255

# extension -> content type served. Text types get the charset they were found to be in.
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "vsdx": "application/vnd.ms-visio.drawing",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "txt": "text/plain",
    "csv": "text/csv",
    "md": "text/markdown",
    "eml": "message/rfc822",
    "msg": "application/vnd.ms-outlook",
    "zip": "application/zip",
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar",
}
TEXT = {"txt", "csv", "md", "eml"}
# What the sniffed content may be for each (non-text) extension; see _sniff for the kinds.
_ZIP_KINDS = {"zip", "docx", "xlsx", "pptx", "vsdx", "odt", "ods", "odp"}
ACCEPTS = {
    "pdf": {"pdf"},
    # An OLE2 file whose directory we could not read is taken on its magic number alone.
    "doc": {"doc", "ole2"},
    "xls": {"xls", "ole2"},
    "ppt": {"ppt", "ole2"},
    "msg": {"msg", "ole2"},
    # Password-protected OOXML files are OLE2 containers holding the encrypted package.
    "docx": {"docx", "encrypted"},
    "xlsx": {"xlsx", "encrypted"},
    "pptx": {"pptx", "encrypted"},
    "vsdx": {"vsdx"},
    "odt": {"odt"},
    "ods": {"ods"},
    "png": {"png", "apng"},
    "jpg": {"jpg"},
    "jpeg": {"jpg"},
    "gif": {"gif"},
    "bmp": {"bmp"},
    "zip": _ZIP_KINDS,
    "7z": {"7z"},
    "rar": {"rar"},
}

LABELS = {
    "pdf": "PDF 文档",
    "doc": "Word 97-2003 文档（doc）",
    "docx": "Word 文档（docx）",
    "xls": "Excel 97-2003 工作簿（xls）",
    "xlsx": "Excel 工作簿（xlsx）",
    "ppt": "PowerPoint 97-2003 演示文稿（ppt）",
    "pptx": "PowerPoint 演示文稿（pptx）",
    "odt": "OpenDocument 文本（odt）",
    "ods": "OpenDocument 表格（ods）",
    "odp": "OpenDocument 演示文稿（odp）",
    "vsdx": "Visio 绘图（vsdx）",
    "vsd": "Visio 2003-2010 绘图（vsd）",
    "png": "PNG 图片",
    "apng": "PNG 动画",
    "jpg": "JPEG 图片",
    "jpeg": "JPEG 图片",
    "gif": "GIF 图片",
    "bmp": "BMP 图片",
    "webp": "WebP 图片",
    "tif": "TIFF 图片",
    "txt": "文本文件",
    "csv": "CSV 文件",
    "md": "Markdown 文本",
    "eml": "电子邮件（eml）",
    "msg": "Outlook 邮件（msg）",
    "zip": "ZIP 压缩包",
    "7z": "7z 压缩包",
    "rar": "RAR 压缩包",
    "gz": "gzip 压缩包",
    "tar": "tar 归档",
    "exe": "Windows 可执行程序（exe）",
    "elf": "Linux 可执行程序",
    "ole2": "OLE2 复合文档",
    "compound": "OLE2 复合文档（不是 Office 文档，可能是安装包等）",
    "encrypted": "加密的 Office 文档",
    "broken-zip": "损坏或不完整的 ZIP 文件",
    "text": "纯文本",
    "sqlite": "SQLite 数据库",
    "rtf": "RTF 文档",
    "epub": "EPUB 电子书",
}

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip, or an empty one
# Bytes that do not occur in text (tab, line breaks, form feed, DOS EOF and ESC are allowed).
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x19\x1c-\x1f]")
_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')  # reserved on Windows, where most downloads end up


def allowed_extensions() -> list[str]:
    return list(CONTENT_TYPES)


def clean_filename(raw: str | None) -> str:
    """The file name as stored and offered on download: no path, no control or invisible
    formatting characters (a right-to-left override can disguise an extension), at most 255
    characters with the extension kept. Chinese and other letters stay as they are."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = _UNSAFE_CHARS.sub("_", name).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME]
    if not name:
        raise InvalidData({"file": ["文件名不能为空"]}, "文件名不能为空")
    return name


def extension(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def detect(filename: str, data: bytes) -> str:
    """The content type to store and serve for this file, or InvalidData when its extension is
    not allowed or its content is not what the extension says."""
    ext = extension(filename)
    if ext not in CONTENT_TYPES:
        what = f"“.{ext}”文件" if ext else "没有扩展名的文件"
        raise _invalid(f"不能上传{what}（{filename}）。允许的类型：{'、'.join(allowed_extensions())}")
    content_type = CONTENT_TYPES[ext]
    if ext in TEXT:
        charset = _text_charset(data)
        if charset is None:
            actual = _sniff(data)
            raise _invalid(
                f"文件“{filename}”不是 UTF-8 或 GB18030 编码的文本"
                + (f"，内容实际是：{_label(actual)}" if actual else "")
            )
        return f"{content_type}; charset={charset}" if content_type.startswith("text/") else content_type
    actual = _sniff(data)
    if actual not in ACCEPTS[ext]:
        raise _invalid(
            f"文件“{filename}”与扩展名 .{ext} 不符："
            + (f"内容实际是：{_label(actual)}" if actual else f"内容不是{_label(ext)}，无法识别其格式")
        )
    return content_type


def _invalid(message: str) -> InvalidData:
    return InvalidData({"file": [message]}, message)


def _label(kind: str) -> str:
    return LABELS.get(kind, f"{kind} 文件")


def _text_charset(data: bytes) -> str | None:
    if _BINARY_BYTES.search(data):
        return None
    for charset in ("utf-8", "gb18030"):
        try:
            data.decode(charset)
            return charset
        except UnicodeDecodeError:
            pass
    return None


def _sniff(data: bytes) -> str | None:
    """What the bytes are: one of our kinds (see ACCEPTS and LABELS), an extension `filetype`
    recognises, "text", or None."""
    if data.startswith(b"MZ"):
        return "exe"  # before the PDF test: an executable carrying a PDF header is still one
    if b"%PDF-" in data[:1024]:  # readers accept leading junk before the header
        return "pdf"
    if data.startswith(_OLE2_MAGIC):
        return _ole2_kind(data)
    if data.startswith(_ZIP_MAGICS):
        return _zip_kind(data)
    kind = filetype.guess(data)
    if kind is not None:
        return kind.extension
    if _text_charset(data):
        return "text"
    return None


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"), ("visio/", "vsdx")):
                    if any(n.startswith(prefix) for n in names):
                        return kind
            if "mimetype" in names:
                with archive.open("mimetype") as member:
                    mime = member.read(100).decode("ascii", "replace").strip()
                return {
                    "application/vnd.oasis.opendocument.text": "odt",
                    "application/vnd.oasis.opendocument.spreadsheet": "ods",
                    "application/vnd.oasis.opendocument.presentation": "odp",
                    "application/epub+zip": "epub",
                }.get(mime, "zip")
            return "zip"
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ):  # RuntimeError: an encrypted "mimetype" member
        return "broken-zip"


def _ole2_kind(data: bytes) -> str:
    names = _ole2_names(data)
    if names is None:
        return "ole2"
    if "WordDocument" in names:
        return "doc"
    if "Workbook" in names or "Book" in names:
        return "xls"
    if "PowerPoint Document" in names:
        return "ppt"
    if "EncryptedPackage" in names:
        return "encrypted"
    if "VisioDocument" in names:
        return "vsd"
    if any(n.startswith("__substg1.0_") for n in names):
        return "msg"
    return "compound"


def _ole2_names(data: bytes) -> set[str] | None:
    """The storage and stream names of a compound file (MS-CFB), or None if its directory cannot
    be read (then the magic number alone decides)."""
    try:
        shift = int.from_bytes(data[30:32], "little")
        if shift not in (9, 12):
            return None
        size = 1 << shift
        fat_sectors = int.from_bytes(data[44:48], "little")
        first_dir = int.from_bytes(data[48:52], "little")
        fat: list[int] = []
        # The header lists the first 109 FAT sectors: enough for files far beyond our size limit.
        for sid in struct.unpack("<109I", data[76:512])[:fat_sectors]:
            fat.extend(struct.unpack(f"<{size // 4}I", _sector(data, sid, size)))
        names, sid, seen = set(), first_dir, set()
        while sid < 0xFFFFFFFA:
            if sid in seen:
                return None  # a loop in the chain: not a file we can read
            seen.add(sid)
            sector = _sector(data, sid, size)
            for offset in range(0, size, 128):
                entry = sector[offset : offset + 128]
                length = int.from_bytes(entry[64:66], "little")
                if entry[66] in (1, 2) and 2 <= length <= 64:  # storage or stream
                    names.add(entry[: length - 2].decode("utf-16-le", "replace"))
            sid = fat[sid]
        return names
    except (struct.error, IndexError, ValueError):
        return None


def _sector(data: bytes, sid: int, size: int) -> bytes:
    sector = data[(sid + 1) * size : (sid + 2) * size]
    if len(sector) != size:
        raise ValueError("sector outside the file")
    return sector


def limit_text(max_bytes: int) -> str:
    """The size limit for people: 20 MB, 512 KB, 100 字节."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if max_bytes >= factor:
            return f"{max_bytes / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{max_bytes} 字节"


def add(session: Session, *, task_id: str, user: User, filename: str | None, data: bytes, max_bytes: int) -> Attachment:
    """Attach a file to the case on a task the user may act on now. The same bytes under the same
    name on the same task (a double click, a retried upload) give back the row stored before."""
    task = tasks.actionable(session, task_id, user)
    name = clean_filename(filename)
    if not data:
        raise _invalid(f"文件“{name}”是空的")
    if len(data) > max_bytes:
        raise TooLarge(f"附件不能超过 {limit_text(max_bytes)}（{name}）")
    content_type = detect(name, data)
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(
        select(Attachment).where(
            Attachment.task_id == task.id, Attachment.sha256 == digest, Attachment.filename == name
        )
    )
    if existing is not None:
        return existing
    attachment = Attachment(
        instance_id=task.instance_id,
        task_id=task.id,
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256=digest,
        content=data,
        uploaded_by=user.id,
    )
    session.add(attachment)
    session.flush()
    history.record(
        session,
        task.instance_id,
        history.EventType.ATTACHED,
        actor_id=user.id,
        task_id=task.id,
        element_id=task.element_id,
        data={"attachment_id": attachment.id, "filename": name, "size": len(data)},
    )
    return attachment


def _listing():
    # Never the content: it is deferred on the model and not selected here.
    return (
        select(
            Attachment.id,
            Attachment.instance_id,
            Attachment.task_id,
            Attachment.filename,
            Attachment.content_type,
            Attachment.size,
            Attachment.sha256,
            Attachment.uploaded_at,
            User.username,
            User.display_name,
            Task.name.label("task_name"),
        )
        .join(User, User.id == Attachment.uploaded_by)
        .outerjoin(Task, Task.id == Attachment.task_id)
    )


def _as_dict(row) -> dict:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "task_id": row.task_id,
        "task_name": row.task_name,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "uploaded_by": row.username,
        "uploaded_by_name": row.display_name,
        "uploaded_at": row.uploaded_at,
    }


def for_instance(session: Session, instance_id: int) -> list[dict]:
    """The case's attachments in upload order, without content (the caller checked it may view)."""
    rows = session.execute(_listing().where(Attachment.instance_id == instance_id).order_by(Attachment.id))
    return [_as_dict(row) for row in rows]


def describe(session: Session, attachment: Attachment) -> dict:
    """One attachment as `for_instance` lists it."""
    return _as_dict(session.execute(_listing().where(Attachment.id == attachment.id)).one())


def get(session: Session, attachment_id: int, *, user: User) -> Attachment:
    """An attachment for download, if the user may view its case. Its content loads on access."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"附件不存在：{attachment_id}")
    if not access.can_view(session, user, session.get_one(Instance, attachment.instance_id)):
        raise Forbidden("无权查看该附件")
    return attachment
