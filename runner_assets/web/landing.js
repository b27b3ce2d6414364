// The landing page (/): share links made when the editor lived at / ("/#v1.…") still open the editor.
if (/^#v\d+\./.test(location.hash)) location.replace(`/editor${location.hash}`);
