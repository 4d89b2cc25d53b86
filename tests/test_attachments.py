"""Attachments on tasks: upload (permission, size, type check), list, download."""

import io
import re
import struct
import zipfile
import zlib
from urllib.parse import quote

import pytest

from engine.errors import InvalidData
from engine.runtime import attachments

# --- real minimal files ------------------------------------------------------------------------

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def ooxml(part: str) -> bytes:
    """A docx / xlsx / pptx skeleton: the content types, the package relations and one main part."""
    return zip_of(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/content-types"/>',
            "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
            part: b'<?xml version="1.0"?><document><body><p>\xe5\x8f\x98\xe6\x9b\xb4\xe6\x96\xb9\xe6\xa1\x88</p>'
            b"</body></document>",
        }
    )


DOCX = ooxml("word/document.xml")
XLSX = ooxml("xl/workbook.xml")
PLAIN_ZIP = zip_of({"readme.txt": b"hello"})


def png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = png()
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"PE\x00\x00" + b"\x00" * 64


def compound_file(stream: str) -> bytes:
    """A minimal OLE2 compound file (MS-CFB, 512-byte sectors) with a root and one stream,
    the container of .doc / .xls / .ppt / .msg and also of installers (.msi)."""
    free, end, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<109I", 0, *[free] * 108)
    )
    fat = struct.pack("<128I", fat_sector, end, end, *[free] * 125)

    def entry(name: str, kind: int, start: int, size: int, child: int = free) -> bytes:
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", free, free, child)
            + b"\x00" * 36
            + struct.pack("<IQ", start, size)
        )

    directory = entry("Root Entry", 5, end, 0, child=1) + entry(stream, 2, 2, 512) + b"\x00" * 128 * 2
    return header + fat + directory + b"\x00" * 512


APPLY = {
    "change_type": "change",
    "process_name": "事件管理流程",
    "process_key": "incident",
    "trigger": "inspection_result",
    "responsible_dept": "ops",
    "business_dept": "tech",
    "reason": "季度检查发现升级时限不清",
    "content": "增加升级步骤",
    "affects_documents": False,
}


# --- the pure type check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,data,content_type",
    [
        ("方案.pdf", PDF, "application/pdf"),
        ("方案.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("台账.XLSX", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("截图.png", PNG, "image/png"),
        ("旧版.doc", compound_file("WordDocument"), "application/msword"),
        ("旧表.xls", compound_file("Workbook"), "application/vnd.ms-excel"),
        (
            "加密.xlsx",
            compound_file("EncryptedPackage"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("资料.zip", PLAIN_ZIP, "application/zip"),
        ("打包的文档.zip", DOCX, "application/zip"),  # a docx is a zip too
        ("说明.txt", "变更说明\r\n第二行".encode(), "text/plain; charset=utf-8"),
        ("清单.csv", "名称,数量\n服务器,2\n".encode("gb18030"), "text/csv; charset=gb18030"),
        ("邮件.eml", b"From: a@example.com\r\nSubject: test\r\n\r\nbody\r\n", "message/rfc822"),
    ],
)
def test_detect_accepts_content_matching_the_extension(name, data, content_type):
    assert attachments.detect(name, data) == content_type


@pytest.mark.parametrize(
    "name,data,says",
    [
        ("合同.pdf", EXE, "Windows 可执行程序"),
        ("方案.docx", PLAIN_ZIP, "ZIP 压缩包"),
        ("方案.docx", XLSX, "Excel 工作簿"),
        ("截图.jpg", PNG, "PNG 图片"),
        ("旧版.doc", compound_file("Workbook"), "Excel 97-2003"),
        ("旧版.doc", compound_file("SummaryInformation"), "不是 Office 文档"),  # e.g. an installer
        ("旧版.doc", PDF, "PDF 文档"),
        ("资料.zip", PLAIN_ZIP[:-30], "损坏或不完整"),
        ("图片.png", b"just some text", "纯文本"),
        ("说明.txt", PNG, "PNG 图片"),
        ("说明.txt", b"\xff\xfe\x00\x00abc", "不是 UTF-8 或 GB18030"),
    ],
)
def test_detect_refuses_content_that_is_something_else(name, data, says):
    with pytest.raises(InvalidData) as raised:
        attachments.detect(name, data)
    assert name in raised.value.message and says in raised.value.message
    assert raised.value.errors == {"file": [raised.value.message]}


@pytest.mark.parametrize("name", ["脚本.exe", "页面.html", "图.svg", "没有扩展名", "宏.docm"])
def test_detect_refuses_extensions_not_on_the_list(name):
    with pytest.raises(InvalidData) as raised:
        attachments.detect(name, PDF)
    assert "不能上传" in raised.value.message and "pdf" in raised.value.message


def test_filenames_are_cleaned_but_keep_chinese():
    assert attachments.clean_filename("C:\\Users\\张三\\桌面\\变更方案（定稿）.docx") == "变更方案（定稿）.docx"
    assert attachments.clean_filename("../../etc/报告.pdf") == "报告.pdf"
    assert attachments.clean_filename("a\x00b\x1f\nc.txt") == "abc.txt"
    # A right-to-left override would show "invoice\u202egpj.exe" as "invoiceexe.jpg".
    assert attachments.clean_filename("invoice\u202egpj.exe") == "invoicegpj.exe"
    assert attachments.clean_filename('问题"清单"?.xlsx ') == "问题_清单__.xlsx"
    long = attachments.clean_filename("很长的名字" * 100 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")
    with pytest.raises(InvalidData):
        attachments.clean_filename("/tmp/ ")


def test_the_limit_is_named_for_people():
    assert attachments.limit_text(20 * 1024 * 1024) == "20 MB"
    assert attachments.limit_text(1536 * 1024) == "1.5 MB"
    assert attachments.limit_text(1024) == "1 KB"
    assert attachments.limit_text(100) == "100 字节"


# --- through the API ---------------------------------------------------------------------------


def upload(api, task_id, as_, name, data, content_type=None):
    file = (io.BytesIO(data), name, content_type) if content_type else (io.BytesIO(data), name)
    return api.client.post(
        f"/api/v1/tasks/{task_id}/attachments",
        data={"file": file},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {api.token(as_)}"},
    )


@pytest.fixture
def case(api):
    """A 流程变更 case by emp, whose first open task (apply) is emp's."""
    started = api.start("process_change", "emp")
    task = next(t for t in started["tasks"] if t["state"] == "open")
    assert task["assignee"] == "emp"
    return {"id": started["id"], "task": task["id"]}


def test_upload_list_and_download(api, case):
    files = [
        ("变更方案.pdf", PDF, "application/pdf"),
        ("变更方案.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("拓扑图.png", PNG, "image/png"),
        ("说明.txt", "说明：升级时限 4 小时".encode(), "text/plain; charset=utf-8"),
    ]
    uploaded = []
    for name, data, content_type in files:
        r = upload(api, case["task"], "emp", name, data)
        assert r.status_code == 201, r.json
        assert (r.json["filename"], r.json["content_type"], r.json["size"]) == (name, content_type, len(data))
        assert (r.json["uploaded_by"], r.json["task_id"], r.json["instance_id"]) == ("emp", case["task"], case["id"])
        assert r.json["url"] == f"/api/v1/attachments/{r.json['id']}"
        uploaded.append(r.json)

    listed = api.get(f"/instances/{case['id']}/attachments", "emp")
    assert listed.status_code == 200
    assert [a["filename"] for a in listed.json] == [name for name, _, _ in files]
    assert "content" not in listed.json[0]
    assert listed.json[0]["uploaded_by_name"] and listed.json[0]["task_name"]

    for item, (name, data, content_type) in zip(uploaded, files):
        r = api.client.get(item["url"], headers={"Authorization": f"Bearer {api.token('emp')}"})
        assert r.status_code == 200
        assert r.data == data
        assert r.headers["Content-Type"] == content_type
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        disposition = r.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert f"filename*=UTF-8''{quote(name)}" in disposition  # the Chinese name, percent-encoded


def test_the_browsers_content_type_is_ignored(api, case):
    r = upload(api, case["task"], "emp", "截图.png", PNG, content_type="text/html")
    assert r.status_code == 201 and r.json["content_type"] == "image/png"


def test_chinese_filename_round_trip(api, case):
    name = "关于《事件管理流程》升级时限的变更申请（第2版）.docx"
    r = upload(api, case["task"], "emp", name, DOCX)
    assert r.status_code == 201 and r.json["filename"] == name
    listed = api.get(f"/instances/{case['id']}/attachments", "emp").json
    assert listed[0]["filename"] == name
    download = api.client.get(r.json["url"], headers={"Authorization": f"Bearer {api.token('emp')}"})
    disposition = download.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(name)}" in disposition
    # An ASCII fallback for old clients, without the Chinese characters.
    fallback = (
        disposition.split('filename="', 1)[1].split('"', 1)[0]
        if 'filename="' in disposition
        else disposition.split("filename=", 1)[1].split(";", 1)[0]
    )
    assert fallback.isascii() and fallback.endswith(".docx")


def test_a_path_in_the_uploaded_name_is_dropped(api, case):
    # (Werkzeug already unescapes backslashes in the multipart header: the unit test covers C:\\ paths.)
    r = upload(api, case["task"], "emp", "../../资料/2026/方案.pdf", PDF)
    assert r.status_code == 201 and r.json["filename"] == "方案.pdf"


def test_too_large_names_the_limit(api, app, case, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 1024)
    r = upload(api, case["task"], "emp", "大文件.txt", b"a" * 1025)
    assert r.status_code == 413
    assert "附件不能超过 1 KB" in r.json["message"]
    assert upload(api, case["task"], "emp", "刚好.txt", b"a" * 1024).status_code == 201
    assert [a["filename"] for a in api.get(f"/instances/{case['id']}/attachments", "emp").json] == ["刚好.txt"]


def test_the_limit_is_20_mb_unless_configured(db, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("BPM_SECRET_KEY", "test")
    monkeypatch.delenv("BPM_ATTACHMENT_MAX_MB", raising=False)
    assert create_app({"BPM_DATABASE": db}).config["ATTACHMENT_MAX_BYTES"] == 20 * 1024 * 1024
    monkeypatch.setenv("BPM_ATTACHMENT_MAX_MB", "5")
    assert create_app({"BPM_DATABASE": db}).config["ATTACHMENT_MAX_BYTES"] == 5 * 1024 * 1024


def test_request_over_max_content_length_is_a_json_413(api, app, case, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    r = upload(api, case["task"], "emp", "大文件.txt", b"a" * 8192)
    assert r.status_code == 413
    assert r.is_json and r.json["message"]


def test_empty_file_is_refused(api, case):
    r = upload(api, case["task"], "emp", "空.pdf", b"")
    assert r.status_code == 400 and "空的" in r.json["message"]


def test_missing_file_field_is_refused(api, case):
    r = api.client.post(
        f"/api/v1/tasks/{case['task']}/attachments",
        data={"other": "x"},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {api.token('emp')}"},
    )
    assert r.status_code == 400 and r.json["errors"]["file"] == ["请选择要上传的文件"]


def test_exe_renamed_pdf_is_refused(api, case):
    r = upload(api, case["task"], "emp", "发票.pdf", EXE, content_type="application/pdf")
    assert r.status_code == 400
    assert "发票.pdf" in r.json["message"] and "可执行程序" in r.json["message"]
    assert api.get(f"/instances/{case['id']}/attachments", "emp").json == []


def test_zip_renamed_docx_is_refused(api, case):
    r = upload(api, case["task"], "emp", "方案.docx", PLAIN_ZIP)
    assert r.status_code == 400
    assert "方案.docx" in r.json["message"] and "ZIP 压缩包" in r.json["message"]


def test_extension_not_allowed_is_refused(api, case):
    r = upload(api, case["task"], "emp", "页面.html", b"<script>alert(1)</script>")
    assert r.status_code == 400 and "不能上传" in r.json["message"]


def test_same_file_twice_is_stored_once(api, case):
    first = upload(api, case["task"], "emp", "方案.pdf", PDF)
    second = upload(api, case["task"], "emp", "方案.pdf", PDF)
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"]
    # The same bytes under another name are another attachment.
    assert upload(api, case["task"], "emp", "方案-副本.pdf", PDF).json["id"] != first.json["id"]
    assert len(api.get(f"/instances/{case['id']}/attachments", "emp").json) == 2
    events = [e for e in api.case(case["id"])["history"] if e["type"] == "attachment_added"]
    assert len(events) == 2


def test_someone_elses_task_is_forbidden(api, case):
    r = upload(api, case["task"], "tech_eng", "方案.pdf", PDF)
    assert r.status_code == 403
    assert upload(api, "no-such-task", "emp", "方案.pdf", PDF).status_code == 404


def test_completed_task_is_a_conflict(api, case):
    api.complete(case["task"], "emp", APPLY)
    r = upload(api, case["task"], "emp", "方案.pdf", PDF)
    assert r.status_code == 409
    # The next step's approver may attach to the step now open.
    review = api.open_task(case["id"], "mr", "mr_review")
    assert upload(api, review["id"], "mr", "审核意见.pdf", PDF).status_code == 201
    listed = api.get(f"/instances/{case['id']}/attachments", "emp").json
    assert [(a["filename"], a["uploaded_by"], a["task_id"]) for a in listed] == [("审核意见.pdf", "mr", review["id"])]


def test_who_cannot_view_the_case_cannot_list_or_download(api, case):
    r = upload(api, case["task"], "emp", "方案.pdf", PDF)
    url = r.json["url"]
    assert api.get(f"/instances/{case['id']}/attachments", "tech_eng").status_code == 403
    assert api.client.get(url, headers={"Authorization": f"Bearer {api.token('tech_eng')}"}).status_code == 403
    # 企管部 sees every case.
    assert api.client.get(url, headers={"Authorization": f"Bearer {api.token('qg_staff')}"}).data == PDF
    assert api.get("/attachments/999999999", "emp").status_code == 404
    assert api.get("/instances/999999999/attachments", "emp").status_code == 404


def test_download_with_the_page_session(app, api, case):
    r = upload(api, case["task"], "emp", "方案.pdf", PDF)
    browser = app.test_client()
    assert browser.get(r.json["url"]).status_code == 401
    # A real login: the cookie names a server-side session, a hand-made one opens nothing.
    form = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text).group(1)
    assert browser.post("/login", data={"username": "emp", "password": "demo", "csrf": form}).status_code == 302
    with browser.session_transaction() as cookie:
        cookie["csrf"] = "t"
    download = browser.get(r.json["url"])
    assert download.status_code == 200 and download.data == PDF
    # Uploading from a page needs the CSRF token like every other write.
    post = lambda **headers: browser.post(  # noqa: E731
        f"/api/v1/tasks/{case['task']}/attachments",
        data={"file": (io.BytesIO(PNG), "截图.png")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert post().status_code == 403
    assert post(**{"X-CSRF-Token": "t"}).status_code == 201


def test_history_records_the_upload(api, case):
    r = upload(api, case["task"], "emp", "变更方案.pdf", PDF)
    events = [e for e in api.case(case["id"])["history"] if e["type"] == "attachment_added"]
    assert len(events) == 1
    event = events[0]
    assert (event["actor"], event["task_id"], event["element_id"]) == ("emp", case["task"], "apply")
    assert event["data"] == {"attachment_id": r.json["id"], "filename": "变更方案.pdf", "size": len(PDF)}
