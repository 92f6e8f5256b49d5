from whisper_pipeline.text.language import guess_language


def test_script_and_lexical_hints():
    assert guess_language("Дете пије млеко.") == "sr"
    assert guess_language("Dete pije mleko uvek.") == "sr"
    assert guess_language("Tko je pojeo kruh u vlaku?") == "hr"
    assert guess_language("Popili smo kahvu u mahali.") == "bs"
    assert guess_language("Dobar dan.") is None
    assert guess_language("") is None
