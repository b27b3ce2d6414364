"""pytest-pyodide tests of the lxml wheel, run inside Pyodide: libxml2's parser and XPath, libxslt's transforms with
an EXSLT function, and the HTML parser."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["lxml"])
def test_parse_xpath_and_serialise(selenium) -> None:
    from lxml import etree

    root = etree.fromstring(b"<farm><wheel name='numpy' size='3'/><wheel name='pandas' size='9'/></farm>")
    assert root.xpath("//wheel[@size > 5]/@name") == ["pandas"]
    assert root.xpath("sum(//wheel/@size)") == 12.0
    etree.SubElement(root, "wheel", name="lxml", size="4")
    assert etree.tostring(root).count(b"<wheel") == 3
    assert etree.LIBXML_VERSION == (2, 9, 14)
    try:
        etree.fromstring(b"<farm><unclosed></farm>")
    except etree.XMLSyntaxError as error:
        assert "unclosed" in str(error) and error.lineno == 1, error
    else:
        raise AssertionError("a mismatched tag was parsed")


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["lxml"])
def test_xslt_with_exslt(selenium) -> None:
    from lxml import etree

    stylesheet = etree.XSLT(
        etree.fromstring(
            b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                 xmlns:str="http://exslt.org/strings" extension-element-prefixes="str">
              <xsl:template match="/">
                <names><xsl:for-each select="//wheel">
                  <xsl:sort select="@name" order="descending"/>
                  <name><xsl:value-of select="str:padding(2, '-')"/><xsl:value-of select="@name"/></name>
                </xsl:for-each></names>
              </xsl:template>
            </xsl:stylesheet>"""
        )
    )
    result = stylesheet(etree.fromstring(b"<farm><wheel name='a'/><wheel name='c'/><wheel name='b'/></farm>"))
    assert [n.text for n in result.getroot()] == ["--c", "--b", "--a"]
    assert etree.LIBXSLT_VERSION == (1, 1, 35)


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["lxml"])
def test_html_parser(selenium) -> None:
    import lxml.html

    page = lxml.html.fromstring("<p>broken <b>markup<i> everywhere</p><table><tr><td>1<td>2</table>")
    assert page.xpath("//td/text()") == ["1", "2"]
    assert page.text_content().startswith("broken markup everywhere")
